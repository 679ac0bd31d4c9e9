/**
 * Breakpoint conditions as data, never code: any NaN/Inf, |x| above a threshold, a per-position L2
 * norm above a threshold, attention entropy (nats, per head and query row) below a threshold.
 * `checkCondition` validates untrusted input; `evaluateCondition` runs on host data, optionally
 * restricted to one row of the tensor's pos axis. Masked attention scores are ignored.
 * Non-goals: expressions, comparisons between tensors.
 */
import { LlmdbgError } from '../errors.js';
import { MASKED_SCORE } from '../model/layers/attention.js';
import { unravel } from './slice.js';

export type Condition =
  | { kind: 'nonfinite' }
  | { kind: 'abs_above'; threshold: number }
  | { kind: 'norm_above'; threshold: number }
  | { kind: 'entropy_below'; threshold: number };

export const CONDITION_KINDS = ['nonfinite', 'abs_above', 'norm_above', 'entropy_below'] as const;

export interface ConditionResult {
  matched: boolean;
  /** What was found, e.g. "NaN at [0, 3, 17]" or "entropy 0.021 < 0.1 at head 2, pos 5". */
  detail: string;
  /** The measured value (first bad value, largest |x| or norm, smallest entropy). */
  value: number | null;
}

function invalid(msg: string, hint?: string): LlmdbgError {
  return new LlmdbgError('invalid_condition', msg, { hint: hint ?? 'conditions: nonfinite, abs > X, norm > X, entropy < X' });
}

/** Validates a condition given as data (e.g. parsed from JSON). */
export function checkCondition(c: unknown): Condition {
  if (typeof c !== 'object' || c === null) throw invalid(`condition ${JSON.stringify(c)} is not an object`);
  const kind = (c as { kind?: unknown }).kind;
  if (kind === 'nonfinite') return { kind };
  if (kind !== 'abs_above' && kind !== 'norm_above' && kind !== 'entropy_below') {
    throw invalid(`unknown condition kind ${JSON.stringify(kind)}`, `choose one of ${CONDITION_KINDS.join(', ')}`);
  }
  const t = (c as { threshold?: unknown }).threshold;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw invalid(`${kind}: threshold ${JSON.stringify(t)} must be a finite number`);
  if (kind === 'entropy_below' && t <= 0) throw invalid(`entropy < ${t} can never hold: entropy is never negative`, 'give a positive threshold in nats, e.g. entropy < 0.5');
  if (kind !== 'entropy_below' && t < 0) throw invalid(`${kind === 'abs_above' ? '|x|' : 'norm'} > ${t} always holds: a negative threshold is not a condition`, 'give a threshold >= 0');
  return { kind, threshold: t };
}

export function describeCondition(c: Condition): string {
  switch (c.kind) {
    case 'nonfinite': return 'nonfinite';
    case 'abs_above': return `abs > ${c.threshold}`;
    case 'norm_above': return `norm > ${c.threshold}`;
    case 'entropy_below': return `entropy < ${c.threshold}`;
  }
}

export interface EvalContext {
  /** Axis of the tensor that indexes sequence positions. */
  posAxis: number;
  /** Keep only this row of the pos axis (tensor index, not sequence position). */
  posIndex?: number;
  /** First sequence position of the tensor (for messages). */
  posOffset: number;
  /** Attention scores: ignore the float32 minimum of masked keys. */
  masked: boolean;
  dims: readonly string[];
}

function strideOf(shape: readonly number[], axis: number): number {
  let s = 1;
  for (let i = axis + 1; i < shape.length; i++) s *= shape[i]!;
  return s;
}

function where(flat: number, shape: readonly number[], ctx: EvalContext): string {
  const idx = unravel(flat, shape);
  return `[${idx.join(', ')}] (${ctx.dims.map((d, i) => `${d} ${i === ctx.posAxis ? idx[i]! + ctx.posOffset : idx[i]}`).join(', ')})`;
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4));

export function evaluateCondition(c: Condition, data: ArrayLike<number>, shape: readonly number[], ctx: EvalContext): ConditionResult {
  const T = shape[ctx.posAxis]!;
  const ps = strideOf(shape, ctx.posAxis);
  const rowOf = (i: number) => Math.floor(i / ps) % T;
  const keep = (i: number) => ctx.posIndex === undefined || rowOf(i) === ctx.posIndex;
  const n = data.length;
  if (c.kind === 'nonfinite') {
    for (let i = 0; i < n; i++) {
      const x = data[i]!;
      if (x - x !== 0 && keep(i)) return { matched: true, detail: `${x} at ${where(i, shape, ctx)}`, value: x };
    }
    return { matched: false, detail: 'all finite', value: null };
  }
  if (c.kind === 'abs_above') {
    let best = -1, at = -1;
    for (let i = 0; i < n; i++) {
      const x = data[i]!;
      if ((ctx.masked && x === MASKED_SCORE) || !keep(i)) continue;
      const a = Math.abs(x);
      if (a > best || (a !== a && best === best)) {
        best = a;
        at = i;
      }
    }
    if (at < 0) return { matched: false, detail: 'no values', value: null };
    const matched = best > c.threshold || best !== best;
    return { matched, detail: `|x| = ${fmt(best)} ${matched ? '>' : '<='} ${c.threshold} at ${where(at, shape, ctx)}`, value: best };
  }
  if (c.kind === 'norm_above') {
    // L2 norm per (batch, position) over every other axis
    const B = shape[0]!;
    const bs = strideOf(shape, 0);
    const sq = new Float64Array(B * T);
    for (let i = 0; i < n; i++) {
      const x = data[i]!;
      if (ctx.masked && x === MASKED_SCORE) continue;
      sq[Math.floor(i / bs) * T + rowOf(i)]! += x * x;
    }
    let best = -1, at = -1;
    for (let r = 0; r < B * T; r++) {
      if (ctx.posIndex !== undefined && r % T !== ctx.posIndex) continue;
      const v = Math.sqrt(sq[r]!);
      if (v > best || (v !== v && best === best)) {
        best = v;
        at = r;
      }
    }
    const matched = best > c.threshold || best !== best;
    return { matched, detail: `norm ${fmt(best)} ${matched ? '>' : '<='} ${c.threshold} at batch ${Math.floor(at / T)}, pos ${(at % T) + ctx.posOffset}`, value: best };
  }
  // entropy over the last axis (key positions) of [B, H, T, S] attention patterns
  const S = shape[shape.length - 1]!;
  let best = Infinity, at = -1;
  for (let row = 0; row * S < n; row++) {
    if (!keep(row * S)) continue;
    let h = 0;
    for (let s = 0; s < S; s++) {
      const p = data[row * S + s]!;
      if (p > 0) h -= p * Math.log(p);
      else if (p !== 0) h = NaN;
    }
    if (h < best || (h !== h && best === best)) {
      best = h;
      at = row * S;
    }
  }
  if (at < 0) return { matched: false, detail: 'no rows', value: null };
  const idx = unravel(at, shape);
  const matched = best < c.threshold || best !== best;
  return { matched, detail: `entropy ${fmt(best)} ${matched ? '<' : '>='} ${c.threshold} at head ${idx[1]}, pos ${idx[ctx.posAxis]! + ctx.posOffset}`, value: best };
}
