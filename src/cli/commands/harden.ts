/**
 * `llmdbg harden`: adversarial training of a model folder on prompts with their correct answers,
 * written to a new model folder, with attack success rates and clean accuracy on held-out data
 * before and after. Bad data lines are reported with their line numbers; progress goes to stderr.
 * Non-goals: the procedure (src/train/adversarial), single attacks (`llmdbg attack`).
 */
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, str, type Options } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { badLinesError, type BadLine } from '../../train/dataset-file.js';
import { resolveAttackMethod } from '../../methods/adversarial/registry.js';
import type { Model } from '../../model/model.js';
import {
  HARDEN_ATTACKS, HARDEN_DEFAULTS, HARDEN_METHODS, checkOutDir, harden, readHardenData, splitHeldOut, tokenizeHardenData,
  type HardenAttack, type HardenItem, type HardenMethod, type HardenProgress, type HardenResult, type ParsedHardenData,
} from '../../train/adversarial/index.js';
import type { Command } from './types.js';

const D = HARDEN_DEFAULTS;

function parseAttacks(s: string | undefined): HardenAttack[] {
  if (s === undefined) return [...HARDEN_ATTACKS];
  const names = s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (names.length === 0) throw new LlmdbgError('invalid_argument', '--attacks is empty', { hint: `give a comma-separated list of ${HARDEN_ATTACKS.join(', ')}` });
  return names.map((n) => {
    const m = resolveAttackMethod(n);
    if (!(HARDEN_ATTACKS as readonly string[]).includes(m)) throw new LlmdbgError('invalid_argument', `--attacks ${m} cannot be trained against (it keeps the model's answer)`, { hint: `use ${HARDEN_ATTACKS.join(' and/or ')}` });
    return m as HardenAttack;
  });
}

/** Reads, tokenizes and checks one data file; bad lines fail unless skipped (then noted). */
function loadItems(path: string, flag: string, model: Model, advLen: number, v: Options, parsed?: ParsedHardenData): { items: HardenItem[]; bad: BadLine[]; skipped: number } {
  const p = parsed ?? readHardenData(path, flag);
  const t = tokenizeHardenData(p.records, model, advLen);
  const bad = [...p.bad, ...t.bad].sort((a, b) => a.line - b.line);
  if (bad.length > 0) {
    if (!v['skip-bad-lines']) throw badLinesError(path, bad);
    if (!v['json']) for (const b of bad.slice(0, 20)) note(`skipped ${path}:${b.line}: ${b.reason}`);
  }
  if (t.items.length === 0) throw new LlmdbgError('invalid_dataset', `${flag} ${path}: no usable prompt with an answer`, { hint: 'lines must be {"prompt", "completion"} or {"prompt", "expected"}' });
  return { items: t.items, bad, skipped: p.skipped.length };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;

function summary(r: HardenResult): string {
  const rows: (string | number)[][] = [['clean accuracy', pct(r.before.clean.accuracy), pct(r.after.clean.accuracy), signed(r.change.cleanAccuracy), `${r.before.clean.correct}/${r.before.clean.n} -> ${r.after.clean.correct}/${r.after.clean.n}`]];
  for (const m of r.recipe.attacks) {
    const b = r.before.attacks[m]!, a = r.after.attacks[m]!;
    rows.push([`${m} success rate`, pct(b.successRate), pct(a.successRate), signed(r.change.attackSuccess[m]!), `${b.successes}/${b.attacked} -> ${a.successes}/${a.attacked}`]);
    rows.push([`${m} robust accuracy`, pct(b.robustAccuracy), pct(a.robustAccuracy), signed(100 * (a.robustAccuracy - b.robustAccuracy)), `of ${r.after.sample} sampled`]);
  }
  return table(rows, ['held-out', 'before', 'after', 'change (pts)', 'counts']);
}

export const hardenCommand: Command = {
  name: 'harden',
  summary: 'adversarial training: attack, fine-tune on the correct answers, repeat; before/after scores on held-out data',
  usage: `llmdbg harden [--model DIR] --data FILE [--eval FILE | --eval-fraction F] --out DIR [--method attack|embedding]
                 [--attacks gcg,hotflip] [--rounds N] [--steps N] [--batch-size B] [--lr X] [--adv-len N]
                 [--adv-where prefix|suffix] [--attack-steps N] [--n-attack N] [--n-eval-attack N] [--adv-fraction F]
                 [--epsilon X] [--pgd-steps N] [--adv-weight W] [--top-k K] [--attack-batch N] [--beam N]
                 [--candidates N] [--seed S] [--skip-bad-lines] [--overwrite] [--json]
  --data: JSONL of {"prompt", "completion"} or eval-suite lines {"prompt", "expected"} (or
  "ids"/"expected_ids"); the answer tokens are the only training targets. --eval: held-out
  prompts in the same format (default: a seeded --eval-fraction of --data, 0.2).
  --method attack (default): ${D.rounds} rounds of { attack --n-attack (${D.nAttack}) correctly answered training
  prompts with each attack (an adversarial --adv-where ${D.advWhere} (after BOS) or suffix of --adv-len ${D.advLen} tokens, --attack-steps
  ${D.attackSteps}), fine-tune --steps ${D.steps} steps on clean and adversarial prompts (--adv-fraction ${D.advFraction})
  with the correct answers }. --method embedding: fine-tune with each token embedding pushed
  along the loss gradient (radius --epsilon ${D.epsilon} x the mean embedding norm, --pgd-steps ${D.pgdSteps}) on
  clean prompts and prompts with random adversarial tokens; loss (1 - w) clean + w perturbed,
  w = --adv-weight ${D.advWeight}.
  Scores: clean accuracy (greedy decoding gives the expected answer) on every held-out prompt;
  attack success rate on the correctly answered prompts of a seeded sample of --n-eval-attack (${D.nEvalAttack}).
  Writes OUT (model.safetensors, config.json, tokenizer, harden.json with the report).
  Defaults: lr ${D.lr} (cosine to lr/10 per round), batch ${D.batchSize}, weight decay ${D.weightDecay}, seed ${D.seed}.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      data: { type: 'string' }, eval: { type: 'string' }, 'eval-fraction': { type: 'string' }, out: { type: 'string' }, method: { type: 'string' },
      attacks: { type: 'string' }, rounds: { type: 'string' }, steps: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' },
      'adv-len': { type: 'string' }, 'adv-where': { type: 'string' }, 'attack-steps': { type: 'string' }, 'n-attack': { type: 'string' },
      'n-eval-attack': { type: 'string' }, 'adv-fraction': { type: 'string' }, epsilon: { type: 'string' }, 'pgd-steps': { type: 'string' },
      'adv-weight': { type: 'string' }, 'top-k': { type: 'string' }, 'attack-batch': { type: 'string' }, beam: { type: 'string' },
      candidates: { type: 'string' }, seed: { type: 'string' }, 'skip-bad-lines': { type: 'boolean' }, overwrite: { type: 'boolean' },
    }, 'harden');
    const dataPath = str(v, 'data');
    const out = str(v, 'out');
    if (dataPath === undefined) throw new LlmdbgError('invalid_argument', 'harden: --data FILE is required', { hint: 'a JSONL file of {"prompt", "completion"} or {"prompt", "expected"} lines' });
    if (out === undefined) throw new LlmdbgError('invalid_argument', 'harden: --out DIR is required', { hint: 'the folder the hardened model is written to' });
    const method = (str(v, 'method') ?? 'attack') as HardenMethod;
    if (!HARDEN_METHODS.includes(method)) throw new LlmdbgError('invalid_argument', `--method ${method} must be ${HARDEN_METHODS.join(' or ')}`);
    const advWhere = str(v, 'adv-where') ?? D.advWhere;
    if (advWhere !== 'prefix' && advWhere !== 'suffix') throw new LlmdbgError('invalid_argument', `--adv-where ${advWhere} must be prefix or suffix`);
    const attacks = parseAttacks(str(v, 'attacks'));
    const advLen = int(v, 'adv-len', D.advLen, 1, 256);
    const seed = int(v, 'seed', D.seed, 0, 2 ** 32 - 1);
    const opt = (name: string) => (str(v, name) === undefined ? undefined : int(v, name, 1, 1));
    checkOutDir(out, Boolean(v['overwrite']));
    // Malformed lines are known before the model loads: fail fast.
    const parsed = readHardenData(dataPath, '--data');
    if (parsed.bad.length > 0 && !v['skip-bad-lines']) throw badLinesError(dataPath, parsed.bad);
    const evalPath = str(v, 'eval');
    if (evalPath !== undefined && str(v, 'eval-fraction') !== undefined) throw new LlmdbgError('invalid_argument', 'give either --eval FILE or --eval-fraction F, not both', { hint: '--eval-fraction holds out part of --data when there is no --eval file' });
    const parsedEval = evalPath === undefined ? undefined : readHardenData(evalPath, '--eval');
    if (evalPath !== undefined && parsedEval!.bad.length > 0 && !v['skip-bad-lines']) throw badLinesError(evalPath, parsedEval!.bad);

    const s = await openSession(v);
    const data = loadItems(dataPath, '--data', s.model, advLen, v, parsed);
    let trainItems = data.items;
    let evalItems: HardenItem[];
    let evalInfo: Record<string, unknown>;
    if (evalPath !== undefined) {
      const e = loadItems(evalPath, '--eval', s.model, advLen, v, parsedEval);
      evalItems = e.items;
      evalInfo = { file: evalPath, items: e.items.length, badLines: e.bad, skippedLines: e.skipped };
    } else {
      const fraction = float(v, 'eval-fraction', 0.2)!;
      const split = splitHeldOut(trainItems, fraction, seed);
      trainItems = split.train;
      evalItems = split.eval;
      evalInfo = { heldOutOf: dataPath, fraction, items: evalItems.length };
    }

    const ac = new AbortController();
    const onSigint = () => {
      note('interrupt: stopping (nothing is written)');
      process.removeListener('SIGINT', onSigint);
      ac.abort();
    };
    process.on('SIGINT', onSigint);
    let lastNote = 0;
    const progress = (p: HardenProgress) => {
      const now = performance.now();
      if (p.done !== p.total && now - lastNote < 2000) return;
      lastNote = now;
      const where = p.round > 0 ? `round ${p.round}/${p.rounds} ` : '';
      note(`${where}${p.phase}${p.detail ? ` ${p.detail}` : ''}: ${p.done}/${p.total}`);
    };
    let r: HardenResult;
    try {
      r = await harden(s.model, {
        train: trainItems, eval: evalItems, method, attacks,
        attack: { advWhere, advLen, steps: int(v, 'attack-steps', D.attackSteps, 1), ...strip({ topK: opt('top-k'), batch: opt('attack-batch'), beam: opt('beam'), candidates: opt('candidates') }) },
        rounds: int(v, 'rounds', D.rounds, 1), steps: int(v, 'steps', D.steps, 1), batchSize: int(v, 'batch-size', D.batchSize, 1, 4096), lr: float(v, 'lr', D.lr)!,
        nAttack: int(v, 'n-attack', D.nAttack, 0), nEvalAttack: int(v, 'n-eval-attack', D.nEvalAttack, 0), advFraction: float(v, 'adv-fraction', D.advFraction)!,
        epsilon: float(v, 'epsilon', D.epsilon)!, pgdSteps: int(v, 'pgd-steps', D.pgdSteps, 1, 100), advWeight: float(v, 'adv-weight', D.advWeight)!,
        seed, outDir: out, overwrite: Boolean(v['overwrite']), signal: ac.signal, onProgress: progress,
        dataInfo: { file: dataPath, items: data.items.length, badLines: data.bad, skippedLines: data.skipped, eval: evalInfo },
      });
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    if (v['json']) return printJson({ ...r, info: runInfo(s, r.info) });
    const secs = Number(r.info['durationMs']) / 1000;
    printLine(`hardened ${s.model.source.dir} -> ${out} (method ${method}, ${r.recipe.rounds} round(s) x ${r.recipe.steps} steps, ${secs.toFixed(0)} s)`);
    printLine(`held out: ${r.after.clean.n} prompts; attacks on a sample of ${r.after.sample} (the correctly answered ones)`);
    printLine(summary(r));
    printLine(`report: ${out}/harden.json`);
  },
};

/** Drops undefined fields (exactOptionalPropertyTypes-friendly option objects). */
function strip<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}
