/**
 * Looking at a paused tensor: statistics of a slice, its values, the top activations, and their
 * text forms for the REPL (nested arrays cut at a budget, one-line statistics). Pure functions on
 * host data, so the REPL and the library show the same numbers.
 * Non-goals: plots (see report/), editing (session.ts).
 */
import { tensorHealth, type HealthMode, type TensorHealth } from '../methods/health/stats.js';
import { forEachSelected, gatherSlice, parseSlice, unravel, type SliceInput } from './slice.js';

export interface HostView {
  shape: readonly number[];
  dims: readonly string[];
  data: ArrayLike<number>;
  posOffset: number;
  /** Attention scores: masked keys excluded from statistics. */
  masked?: boolean;
}

export interface TopEntry {
  /** Index into the tensor at hand. */
  index: number[];
  /** The same index with the pos axis as a sequence position, by dimension name. */
  at: Record<string, number>;
  value: number;
}

export function sliceOf(v: HostView, slice?: SliceInput): { shape: number[]; data: Float32Array } {
  const sel = parseSlice(slice, v.shape, v.dims);
  const g = gatherSlice(v.data, v.shape, sel);
  return { shape: g.shape, data: g.data };
}

export function statsOf(v: HostView, slice?: SliceInput, mode: HealthMode = 'full'): TensorHealth {
  const s = sliceOf(v, slice);
  return tensorHealth(s.data, s.shape, mode, { masked: v.masked ?? false });
}

/** The k largest values (or largest |x| with `abs`) of a slice, largest first; ties by lower index. NaN never ranks. */
export function topActivations(v: HostView, k = 10, opts: { slice?: SliceInput; abs?: boolean } = {}): TopEntry[] {
  const sel = parseSlice(opts.slice, v.shape, v.dims);
  const cand: { flat: number; key: number; value: number }[] = [];
  forEachSelected(sel, v.shape, (flat) => {
    const x = v.data[flat]!;
    if (x !== x) return;
    cand.push({ flat, key: opts.abs ? Math.abs(x) : x, value: x });
  });
  cand.sort((a, b) => b.key - a.key || a.flat - b.flat);
  const posAxis = v.dims.indexOf('pos');
  return cand.slice(0, Math.max(0, k)).map((c) => {
    const index = unravel(c.flat, v.shape);
    const at: Record<string, number> = {};
    v.dims.forEach((d, i) => {
      at[d] = i === posAxis ? index[i]! + v.posOffset : index[i]!;
    });
    return { index, at, value: c.value };
  });
}

export function fmtNum(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(3) : Number(x.toPrecision(5)).toString();
}

/** Statistics in a few readable lines. */
export function formatStats(h: TensorHealth): string[] {
  const lines: string[] = [];
  if (h.nanCount !== undefined) {
    lines.push(`nan ${h.nanCount}  +inf ${h.posInfCount}  -inf ${h.negInfCount}${h.maskedCount !== undefined ? `  masked ${h.maskedCount}` : ''}  (${h.size} values)`);
  }
  if (h.mean !== undefined) {
    lines.push(`min ${fmtNum(h.min)}  max ${fmtNum(h.max)}  mean ${fmtNum(h.mean)}  std ${fmtNum(h.std)}  norm ${fmtNum(h.norm)}  zeros ${((h.zeroFraction ?? 0) * 100).toFixed(1)}%`);
  }
  if (h.fp16 && h.bf16) {
    const room = (bits: number | null) => (bits === null ? 'unbounded' : `${bits.toFixed(1)} bits`);
    lines.push(`fp16 headroom ${room(h.fp16.headroomBits)} (overflow ${h.fp16.overflowCount}, underflow ${h.fp16.underflowCount}, subnormal ${h.fp16.subnormalCount})  bf16 headroom ${room(h.bf16.headroomBits)} (overflow ${h.bf16.overflowCount})`);
  }
  return lines;
}

/** Nested-array text of a slice, at most `budget` numbers (then "..."). */
export function formatValues(shape: readonly number[], data: ArrayLike<number>, budget = 200): string {
  if (shape.length === 0) return fmtNum(data[0]);
  let used = 0;
  const rec = (axis: number, base: number): string => {
    const n = shape[axis]!;
    const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (used >= budget) {
        parts.push('...');
        break;
      }
      if (axis === shape.length - 1) {
        parts.push(fmtNum(data[base + i]));
        used++;
      } else parts.push(rec(axis + 1, base + i * stride));
    }
    return `[${parts.join(axis === shape.length - 1 ? ', ' : ',\n' + ' '.repeat(axis + 1))}]`;
  };
  return rec(0, 0);
}
