/**
 * Hardens the bundled demo model and records the before/after figures: builds the hardening set
 * from the demo corpus's TRAINING split (src/demo/harden-data.ts), evaluates on the held-out
 * models/demo/eval-suite.jsonl, runs `harden()` with small attack budgets (gcg and hotflip, an
 * adversarial prefix), prints a summary and writes the full reports as JSON.
 *
 * Usage: npx tsx tools/harden-demo.ts [--method attack(default)|embedding|both] [--out DIR] [--results FILE]
 *        [--backend B] [--seed S] [--rounds N] [--steps N] [--n-eval-attack N] [--n-attack N] [--stronger]
 *        [--lr X] [--adv-len N] [--attack-steps N] [--adv-fraction F] [--epsilon X]
 * --stronger also attacks the original and each hardened model with a stronger attack than the one
 * trained against (8-token prefix, 30 steps, gcg batch 64 / top-k 64) on the same sampled prompts.
 * Deterministic: same seed, backend and thread count give the same weights and figures.
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel } from '../src/model/model.js';
import { buildHardenData, formatHardenJsonl } from '../src/demo/harden-data.js';
import { evaluateHeldOut, harden, parseHardenData, readHardenData, tokenizeHardenData, type HardenMethod, type HardenOptions, type HardenResult, type HeldOutScores } from '../src/train/adversarial/index.js';
import { attack } from '../src/methods/adversarial/attack.js';
import type { Model } from '../src/model/model.js';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/demo' },
    method: { type: 'string', default: 'attack' },
    out: { type: 'string', default: 'bench/.cache/demo-hardened' },
    results: { type: 'string', default: 'bench/results/harden-demo.json' },
    backend: { type: 'string' },
    seed: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '8' },
    steps: { type: 'string', default: '40' },
    'n-attack': { type: 'string', default: '48' },
    'n-eval-attack': { type: 'string', default: '48' },
    stronger: { type: 'boolean', default: false },
    lr: { type: 'string', default: '1e-4' },
    'adv-len': { type: 'string', default: '6' },
    'attack-steps': { type: 'string', default: '12' },
    'adv-fraction': { type: 'string', default: '0.5' },
    epsilon: { type: 'string', default: '0.1' },
  },
});

const backend = await initBackend(v.backend as BackendChoice | undefined);
console.error(`backend ${backend.name} (${backend.threads} thread${backend.threads === 1 ? '' : 's'})`);
const model = loadModel(resolve(v.model!));
const seed = Number(v.seed);
const ADV_LEN = Number(v['adv-len']);

// training prompts from the TRAIN split; held-out prompts from the eval suite (induction lines are skipped)
const data = parseHardenData(formatHardenJsonl(buildHardenData({ seed })), 'demo-harden.jsonl');
const train = tokenizeHardenData(data.records, model, ADV_LEN);
const evalPath = join(model.source.dir, 'eval-suite.jsonl');
const ev = tokenizeHardenData(readHardenData(evalPath, '--eval').records, model, ADV_LEN);
if (train.bad.length + ev.bad.length > 0) throw new Error(`unexpected bad lines: ${JSON.stringify([...train.bad, ...ev.bad].slice(0, 3))}`);
console.error(`train ${train.items.length} prompts (train split), held out ${ev.items.length} prompts (${evalPath})`);

const methods: HardenMethod[] = v.method === 'both' ? ['attack', 'embedding'] : [v.method as HardenMethod];
const common: Omit<HardenOptions, 'method'> = {
  train: train.items, eval: ev.items, attacks: ['gcg', 'hotflip'],
  attack: { advWhere: 'prefix', advLen: ADV_LEN, steps: Number(v['attack-steps']), batch: 32, topK: 32, beam: 2, candidates: 32 },
  rounds: Number(v.rounds), steps: Number(v.steps), batchSize: 16, lr: Number(v.lr), nAttack: Number(v['n-attack']), nEvalAttack: Number(v['n-eval-attack']),
  advFraction: Number(v['adv-fraction']), epsilon: Number(v.epsilon), pgdSteps: 2, advWeight: 0.5, seed,
  dataInfo: { train: 'src/demo/harden-data.ts buildHardenData (train split)', eval: evalPath },
};

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const reports: Record<string, HardenResult> = {};
const stronger: Record<string, HeldOutScores> = {};
const STRONG = { advWhere: 'prefix' as const, advLen: 8, steps: 30, batch: 64, topK: 64, beam: 2, candidates: 32 };
/** The stronger attack on the sampled held-out lines of `r` (a transfer check beyond the trained budget). */
async function strongerCheck(m: Model, r: HardenResult, label: string): Promise<void> {
  const lines = new Set(r.before.sampleLines);
  const sample = ev.items.map((it, i) => (lines.has(it.line) ? i : -1)).filter((i) => i >= 0);
  const s = await evaluateHeldOut(m, ev.items, { attacks: ['gcg', 'hotflip'], settings: STRONG, sample, seed, phase: 'stronger', attackFn: attack });
  stronger[label] = s;
  console.log(`  stronger attack on ${label}: gcg ${s.attacks.gcg!.successes}/${s.attacks.gcg!.attacked}, hotflip ${s.attacks.hotflip!.successes}/${s.attacks.hotflip!.attacked}`);
}
for (const method of methods) {
  const out = resolve(`${v.out}-${method}`);
  let last = 0;
  const r = await harden(model, {
    ...common, method, outDir: out, overwrite: true,
    onProgress: (p) => {
      if (p.done !== p.total && performance.now() - last < 5000) return;
      last = performance.now();
      console.error(`[${method}] ${p.round ? `round ${p.round}/${p.rounds} ` : ''}${p.phase}${p.detail ? ` ${p.detail}` : ''}: ${p.done}/${p.total}`);
    },
  });
  reports[method] = r;
  console.log(`method ${method}: ${(Number(r.info['durationMs']) / 1000).toFixed(0)} s, model in ${out}`);
  console.log(`  clean accuracy   ${pct(r.before.clean.accuracy)} -> ${pct(r.after.clean.accuracy)} (${r.change.cleanAccuracy >= 0 ? '+' : ''}${r.change.cleanAccuracy} pts)`);
  for (const [b, s] of Object.entries(r.before.clean.byBehaviour)) console.log(`    ${b.padEnd(10)} ${pct(s.accuracy)} -> ${pct(r.after.clean.byBehaviour[b]!.accuracy)}`);
  for (const m of r.recipe.attacks) {
    const b = r.before.attacks[m]!, a = r.after.attacks[m]!;
    console.log(`  ${m.padEnd(8)} success ${pct(b.successRate)} (${b.successes}/${b.attacked}) -> ${pct(a.successRate)} (${a.successes}/${a.attacked}); robust accuracy ${pct(b.robustAccuracy)} -> ${pct(a.robustAccuracy)}`);
  }
  if (v.stronger) {
    if (!stronger['original']) await strongerCheck(model, r, 'original');
    const hardened = loadModel(out);
    await strongerCheck(hardened, r, method);
    hardened.dispose();
  }
}

const results = resolve(v.results!);
mkdirSync(dirname(results), { recursive: true });
const summary = Object.fromEntries(Object.entries(reports).map(([m, r]) => [m, {
  cleanAccuracy: { before: r.before.clean.accuracy, after: r.after.clean.accuracy, changePts: r.change.cleanAccuracy },
  attacks: Object.fromEntries(r.recipe.attacks.map((a) => [a, { before: r.before.attacks[a]!.successRate, after: r.after.attacks[a]!.successRate, attackedBefore: r.before.attacks[a]!.attacked, attackedAfter: r.after.attacks[a]!.attacked, changePts: r.change.attackSuccess[a] }])),
  durationMs: r.info['durationMs'],
}]));
const strongerSummary = Object.fromEntries(Object.entries(stronger).map(([k, s]) => [k, Object.fromEntries(Object.entries(s.attacks).map(([a, x]) => [a, { successes: x.successes, attacked: x.attacked, successRate: x.successRate }]))]));
writeFileSync(results, JSON.stringify({
  date: new Date().toISOString(), backend: backend.name, threads: backend.threads, model: model.source.dir, seed, summary,
  ...(v.stronger ? { stronger: { settings: STRONG, summary: strongerSummary, scores: stronger } } : {}), reports,
}, null, 1) + '\n');
console.log(`wrote ${results}`);
model.dispose();
