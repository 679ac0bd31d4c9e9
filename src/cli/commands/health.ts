/**
 * `llmdbg health`: tensor health at every hook point of a forward pass (NaN/Inf counts, statistics,
 * float16/bfloat16 headroom), the first non-finite hook point, and a load-time scan of the weights.
 */
import { LlmdbgError } from '../../errors.js';
import { parse, str } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { checkHealthMode, healthRun, scanWeights, type HookHealth, type WeightScan } from '../../methods/health/index.js';
import type { Command } from './types.js';

const num = (x: number | null | undefined): string => {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(4)));
};

function row(r: HookHealth): (string | number)[] {
  const inf = (r.posInfCount ?? 0) + (r.negInfCount ?? 0);
  const room = r.fp16 ? (r.fp16.headroomBits === null ? 'inf' : r.fp16.headroomBits.toFixed(1)) : '-';
  return [r.hook, `[${r.shape.join(',')}]`, r.nanCount ?? '-', r.nanCount === undefined ? '-' : inf, num(r.min), num(r.max), num(r.mean), num(r.std),
    r.zeroFraction === undefined ? '-' : `${(r.zeroFraction * 100).toFixed(1)}%`, room, r.fp16 ? r.fp16.overflowCount : '-'];
}

function weightLines(w: WeightScan): string[] {
  const lines = [`weights: ${w.totals.tensors} tensors, ${w.totals.values} values; non-finite ${w.totals.nanCount} NaN + ${w.totals.infCount} Inf, subnormal ${w.totals.subnormalCount}`];
  for (const t of w.tensors) {
    const bad = t.nanCount + t.posInfCount + t.negInfCount;
    if (bad > 0 || t.subnormalCount > 0) lines.push(`  ${t.name} (${t.dtype} [${t.shape.join(',')}]): NaN ${t.nanCount}, +Inf ${t.posInfCount}, -Inf ${t.negInfCount}, subnormal ${t.subnormalCount}`);
  }
  return lines;
}

export const healthCommand: Command = {
  name: 'health',
  summary: 'tensor health at every hook point (NaN/Inf, statistics, fp16/bf16 headroom), first non-finite hook, weight scan',
  usage: `llmdbg health [--model DIR] (--prompt TEXT | --ids 1,2,3) [--mode shape|finite|stats|full]
              [--hook PATTERN ...] [--logits last|all|none] [--no-weights] [--json]
  Modes, cheap to full: shape (no data read), finite (NaN, +Inf, -Inf counts), stats (+ min, max,
  mean, std, norm, share of zeros), full (default; + |x| max and headroom against float16 (|x| >
  65504) and bfloat16: overflow, underflow to zero, subnormals). Masked attention scores (the float32
  minimum) are left out of the statistics. firstNonFinite names the first hook point in execution
  order holding a NaN or an infinity ({hook, layer, nanCount, infCount}, null when none; 'logits'
  when only the logits are); --hook restricts both the table and that search. --logits chooses the
  positions whose logits are measured (default last: the all-position unembedding is costly).
  The weight scan reports non-finite and subnormal values per stored tensor (--no-weights skips it).`,
  async run(argv) {
    const { values: v } = parse(argv, { mode: { type: 'string' }, hook: { type: 'string', multiple: true }, logits: { type: 'string' }, 'no-weights': { type: 'boolean' } }, 'health');
    const logits = str(v, 'logits') ?? 'last';
    if (logits !== 'last' && logits !== 'all' && logits !== 'none') throw new LlmdbgError('invalid_argument', `--logits ${logits} must be last, all or none`);
    const mode = checkHealthMode(str(v, 'mode') ?? 'full');
    const s = await openSession(v);
    const ids = promptIds(s.model, v);
    const t0 = performance.now();
    const weights = v['no-weights'] ? null : scanWeights(s.model.source.dir);
    const weightsMs = performance.now() - t0;
    const hooks = (v['hook'] as string[] | undefined) ?? ['*'];
    const rep = healthRun(s.model, ids, { mode, hooks, logits });
    if (v['json']) {
      printJson({ ...rep, weights, info: { ...rep.info, ...runInfo(s, { durationMs: rep.info.durationMs, weightsScanMs: Math.round(weightsMs) }) } });
      return;
    }
    if (weights) for (const l of weightLines(weights)) printLine(l);
    printLine(table(rep.rows.map(row), ['hook', 'shape', 'nan', 'inf', 'min', 'max', 'mean', 'std', 'zeros', 'fp16 room', 'fp16 over']));
    const l = rep.logits;
    if (l.size > 0) printLine(`logits [${l.shape.join(',')}]: nan ${l.nanCount ?? '-'}, inf ${(l.posInfCount ?? 0) + (l.negInfCount ?? 0)}, min ${num(l.min)}, max ${num(l.max)}`);
    const f = rep.firstNonFinite;
    if (!rep.nonFiniteChecked) printLine('firstNonFinite: not checked in shape mode (use --mode finite or higher)');
    else printLine(f ? `firstNonFinite: ${f.hook}${f.layer === null ? '' : ` (layer ${f.layer})`}: ${f.nanCount} NaN, ${f.infCount} Inf` : 'firstNonFinite: none (every hook point is finite)');
    note(`${rep.rows.length} hook points, mode ${mode}, ${rep.info.durationMs} ms forward + health${weights ? `, weight scan ${weightsMs.toFixed(0)} ms` : ''} (${s.backend.name})`);
  },
};
