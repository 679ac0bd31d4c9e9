/**
 * GCG benchmark (issue 8 §5): time per GCG step with its candidate batch, through the public
 * `attack()` API, on the demo model and on the GPT-2-small-shaped random model. Each step is split,
 * inside the real run, into the loss gradient (one forward + backward) and the evaluation of the
 * candidate batch (batched forwards), by timing the library's scorer calls (its prototype is wrapped
 * here, never in the library); beside it, the same scorer on single rows shows that batching pays.
 * Non-goals: attack success rates (see the tests and `llmdbg harden`), unit-test timing.
 *
 *   npx tsx bench/attack.ts [--models demo,gpt2-small] [--backend auto|native|wasm|cpu]
 *       [--batches 64,128] [--steps-demo 10] [--steps-gpt2 2] [--suffix 8] [--top-k 32]
 *       [--prompt-len 24] [--one-by-one 8]
 * Prints progress and a Markdown table (wall ms, CPU ms in parentheses) on stderr, one JSON object on stdout.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel } from '../src/model/model.js';
import { Rng } from '../src/engine/rng.js';
import { attack } from '../src/methods/adversarial/attack.js';
import type { AttackRequest } from '../src/methods/adversarial/types.js';
import { ATTACK_DEFAULTS, GoalScorer } from '../src/methods/adversarial/index.js';
import { BENCH_ROOT, ensureModel } from './make-model.js';
import { median, memorySnapshot, promptIds } from './common.js';

const DEMO_PROMPT = 'Everyone knows that the capital of France is';

interface Row {
  model: string;
  batch: number;
  steps: number;
  /** Wall time of one attack() step (mean over steps 2..n: step 1 also pays the setup), ms. */
  stepMs: number;
  /** CPU time (user + system, all threads of this process) of the same steps, ms: robust to other processes on the cores. */
  stepCpuMs: number;
  /** Candidates evaluated per step, steps 2..n (the batch after dropping duplicate and no-op swaps). */
  queriesPerStep: number;
  /** Per step, timed inside the run: the loss gradient (forward + backward), ms. */
  gradientMs: number;
  gradientCpuMs: number;
  /** Per step, timed inside the run: evaluating the candidate batch (batched forwards), ms. */
  evalMs: number;
  evalCpuMs: number;
  /** The rest of a step: vocabulary projection of the gradient, top-k, building candidates, bookkeeping. */
  otherMs: number;
  evalPerCandidateMs: number;
  evalPerCandidateCpuMs: number;
  /** The same scorer on single rows (one candidate per forward), ms per candidate. */
  oneByOnePerCandidateMs: number;
  oneByOnePerCandidateCpuMs: number;
  /** One-by-one time per candidate over batched time per candidate (wall, CPU). */
  batchingSpeedup: number;
  batchingSpeedupCpu: number;
  /** Candidate rows per forward under the default memory budget (larger batches are split). */
  rowsPerForward: number;
}

/** Time spent in the scorer's two hot calls during attack(), by patching its prototype (bench only). */
const timers = { gradMs: 0, gradCpu: 0, grads: 0, evalMs: 0, evalCpu: 0, evalCalls: 0 };
const cpuNow = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
function instrument(): void {
  const proto = GoalScorer.prototype;
  const evaluate = proto.evaluate;
  const lossAndGrad = proto.lossAndGrad;
  proto.evaluate = async function (this: GoalScorer, rows) {
    const t0 = performance.now();
    const c0 = cpuNow();
    try {
      return await evaluate.call(this, rows);
    } finally {
      // Single rows are the original and start inputs scored before the search (not candidates).
      if (rows.length > 1) { timers.evalMs += performance.now() - t0; timers.evalCpu += cpuNow() - c0; timers.evalCalls++; }
    }
  };
  proto.lossAndGrad = async function (this: GoalScorer, ids) {
    const t0 = performance.now();
    const c0 = cpuNow();
    try {
      return await lossAndGrad.call(this, ids);
    } finally {
      timers.gradMs += performance.now() - t0;
      timers.gradCpu += cpuNow() - c0;
      timers.grads++;
    }
  };
}

async function benchModel(name: string, dir: string, o: { batches: number[]; steps: number; suffix: number; topK: number; promptLen: number; oneByOne: number }, log: (m: string) => void): Promise<Row[]> {
  const model = loadModel(dir);
  const V = model.config.vocabSize;
  const rng = new Rng(1);
  const ids = model.tokenizer ? model.encode(DEMO_PROMPT) : promptIds(o.promptLen, V, 0);
  // A two-token target the model does not produce: every step runs (no early success).
  const targetIds = [rng.int(V), rng.int(V)];
  log(`${name}: ${dir} (${model.config.arch}, ${(model.nParams / 1e6).toFixed(2)}M params), prompt ${ids.length} tokens, suffix ${o.suffix}, top-k ${o.topK}, target ids ${targetIds.join(',')}`);
  const base: AttackRequest = { method: 'gcg', ids, goal: { kind: 'targeted', targetIds }, adv: { where: 'suffix', length: o.suffix }, topK: o.topK, seed: 0 };
  await attack(model, { ...base, batch: 8, budget: { maxSteps: 1 } }); // warm-up: kernels, weight layouts
  const scorer = new GoalScorer(model, { kind: 'targeted', target: targetIds }, ATTACK_DEFAULTS.memoryMB);
  const seq = [...ids, ...Array.from({ length: o.suffix }, () => rng.int(V))];
  const one = Array.from({ length: o.oneByOne }, () => {
    const row = [...seq];
    row[ids.length + rng.int(o.suffix)] = rng.int(V);
    return row;
  });
  await scorer.evaluate([one[0]!]); // warm-up of the one-row shape
  const t1 = performance.now();
  const c1 = cpuNow();
  for (const r of one) await scorer.evaluate([r]);
  const oneByOneMs = (performance.now() - t1) / o.oneByOne;
  const oneByOneCpuMs = (cpuNow() - c1) / o.oneByOne;
  const rows: Row[] = [];
  for (const B of o.batches) {
    const marks: { t: number; cpu: number; grad: number; gradCpu: number; eval: number; evalCpu: number }[] = [];
    Object.assign(timers, { gradMs: 0, gradCpu: 0, grads: 0, evalMs: 0, evalCpu: 0, evalCalls: 0 });
    const r = await attack(model, {
      ...base, batch: B, budget: { maxSteps: o.steps },
      onProgress: () => marks.push({ t: performance.now(), cpu: cpuNow(), grad: timers.gradMs, gradCpu: timers.gradCpu, eval: timers.evalMs, evalCpu: timers.evalCpu }),
    });
    // Steps 2..n, each from the end of the previous step to its own end (step 1 also pays the setup).
    type Span = { ms: number; cpu: number; grad: number; gradCpu: number; eval: number; evalCpu: number };
    const spans: Span[] = marks.slice(1).map((m, i) => {
      const p = marks[i]!;
      return { ms: m.t - p.t, cpu: m.cpu - p.cpu, grad: m.grad - p.grad, gradCpu: m.gradCpu - p.gradCpu, eval: m.eval - p.eval, evalCpu: m.evalCpu - p.evalCpu };
    });
    if (spans.length === 0) throw new Error(`${name}: give at least 2 steps (got ${r.steps.length})`);
    const mean = (k: keyof Span) => spans.reduce((a, x) => a + x[k], 0) / spans.length;
    const stepMs = mean('ms');
    const queriesPerStep = (r.steps.at(-1)!.queries - r.steps[0]!.queries) / spans.length;
    const gradientMs = mean('grad');
    const evalMs = mean('eval');
    const row: Row = {
      model: name, batch: B, steps: r.steps.length, stepMs, stepCpuMs: mean('cpu'), queriesPerStep,
      gradientMs, gradientCpuMs: mean('gradCpu'), evalMs, evalCpuMs: mean('evalCpu'), otherMs: stepMs - gradientMs - evalMs,
      evalPerCandidateMs: evalMs / queriesPerStep, evalPerCandidateCpuMs: mean('evalCpu') / queriesPerStep,
      oneByOnePerCandidateMs: oneByOneMs, oneByOnePerCandidateCpuMs: oneByOneCpuMs,
      batchingSpeedup: oneByOneMs / (evalMs / queriesPerStep), batchingSpeedupCpu: oneByOneCpuMs / (mean('evalCpu') / queriesPerStep),
      rowsPerForward: scorer.chunkRows(seq.length, B),
    };
    rows.push(row);
    log(`  batch ${B}: ${row.stepMs.toFixed(0)} ms/step (cpu ${row.stepCpuMs.toFixed(0)}) = gradient ${gradientMs.toFixed(0)} + candidates ${evalMs.toFixed(0)} + other ${row.otherMs.toFixed(0)}; ${queriesPerStep.toFixed(0)} candidates/step, ${row.evalPerCandidateMs.toFixed(2)} ms each batched vs ${oneByOneMs.toFixed(1)} one by one (x${row.batchingSpeedup.toFixed(1)}; cpu x${row.batchingSpeedupCpu.toFixed(1)}), ${row.rowsPerForward} rows per forward`);
  }
  model.dispose();
  return rows;
}

/** Wall (CPU) ms cells. */
function table(rows: Row[]): string {
  const head = ['model', 'batch', 'steps', 'ms/step', 'gradient ms', 'candidates ms', 'candidates/step', 'ms/candidate batched', 'ms/candidate 1 by 1', 'batching gain'];
  const f = (x: number, d = 0) => x.toFixed(d);
  const w = (wall: number, cpu: number, d = 0) => `${f(wall, d)} (${f(cpu, d)})`;
  const body = rows.map((r) => [r.model, String(r.batch), String(r.steps), w(r.stepMs, r.stepCpuMs), w(r.gradientMs, r.gradientCpuMs), w(r.evalMs, r.evalCpuMs),
    f(r.queriesPerStep), w(r.evalPerCandidateMs, r.evalPerCandidateCpuMs, 2), w(r.oneByOnePerCandidateMs, r.oneByOnePerCandidateCpuMs, 1), `x${f(r.batchingSpeedup, 1)} (x${f(r.batchingSpeedupCpu, 1)})`]);
  return [head, head.map(() => '---'), ...body].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      models: { type: 'string', default: 'demo,gpt2-small' }, backend: { type: 'string', default: 'auto' }, batches: { type: 'string', default: '64,128' },
      'steps-demo': { type: 'string', default: '10' }, 'steps-gpt2': { type: 'string', default: '2' }, suffix: { type: 'string', default: '8' },
      'top-k': { type: 'string', default: '32' }, 'prompt-len': { type: 'string', default: '24' }, 'one-by-one': { type: 'string', default: '8' },
    },
  });
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = await initBackend(v.backend as BackendChoice);
  instrument();
  const load0 = loadavg()[0]!;
  log(`backend ${backend.name} x${backend.threads}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const common = { batches: v.batches!.split(',').map(Number), suffix: Number(v.suffix), topK: Number(v['top-k']), promptLen: Number(v['prompt-len']), oneByOne: Number(v['one-by-one']) };
  const rows: Row[] = [];
  for (const m of v.models!.split(',')) {
    if (m === 'demo') {
      const dir = join(BENCH_ROOT, '..', 'models', 'demo');
      if (!existsSync(join(dir, 'config.json'))) { log('models/demo is missing; skipped'); continue; }
      rows.push(...(await benchModel('demo', dir, { ...common, steps: Number(v['steps-demo']) }, log)));
    } else {
      const made = await ensureModel(m);
      rows.push(...(await benchModel(m, made.dir, { ...common, steps: Number(v['steps-gpt2']) }, log)));
    }
  }
  const mem = memorySnapshot();
  log(`\n${table(rows)}\n\npeak RSS ${mem.peakRssMB.toFixed(0)} MB; load average ${load0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}`);
  const out = { info: { method: 'bench-attack', backend: backend.name, threads: backend.threads, loadAverage: [load0, loadavg()[0]], ...common }, rows, memory: mem };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
