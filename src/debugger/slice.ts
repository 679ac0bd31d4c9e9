/**
 * Slices of a paused tensor, numpy-style and checked: `[0, 3, :]`, `[:, :, 2:5]`, `[..., -1]`, or by
 * dimension name `pos=3 head=1` (names from the hook's dims). Indices are into the tensor at hand
 * (during decoding the pos axis holds one row: the new position). Reading and editing (set, scale)
 * work on a host copy; an edit never changes the shape. Errors name the axis and its valid range.
 * Non-goals: strides, fancy (list) indexing, broadcasting other than a scalar.
 */
import { LlmdbgError } from '../errors.js';

/** One axis of a selection: [start, stop); `single` axes are dropped from the slice's shape. */
export interface AxisSel {
  start: number;
  stop: number;
  single: boolean;
}

/** A slice as text, or per axis: an index, a [start, stop) pair, or null for the whole axis. */
export type SliceInput = string | readonly (number | readonly [number, number] | null)[];

function bad(msg: string, hint = 'write e.g. [0, 3, :] or [:, :, 2:5] or pos=3 head=1'): LlmdbgError {
  return new LlmdbgError('invalid_slice', msg, { hint });
}

function fmtShape(shape: readonly number[], dims?: readonly string[]): string {
  return `[${shape.map((n, i) => (dims?.[i] ? `${dims[i]} ${n}` : String(n))).join(', ')}]`;
}

function parseInt10(s: string, what: string): number {
  if (!/^-?\d+$/.test(s)) throw bad(`slice: "${what}" is not an index or a range`);
  return Number(s);
}

function axisFromText(item: string, n: number, axis: string): AxisSel {
  const t = item.trim();
  if (t === ':' || t === '') return { start: 0, stop: n, single: false };
  const colon = t.indexOf(':');
  if (colon < 0) return axisIndex(parseInt10(t, t), n, axis);
  const a = t.slice(0, colon).trim();
  const b = t.slice(colon + 1).trim();
  if (b.includes(':')) throw bad(`slice: "${t}" has a step, which is not supported`);
  return axisRange(a === '' ? 0 : parseInt10(a, t), b === '' ? n : parseInt10(b, t), n, axis);
}

function axisIndex(i: number, n: number, axis: string): AxisSel {
  const j = i < 0 ? n + i : i;
  if (!Number.isInteger(i) || j < 0 || j >= n) throw bad(`slice: index ${i} is out of range for axis ${axis} of size ${n} (valid: 0..${n - 1} or -${n}..-1)`, 'indices count from 0; negative ones from the end');
  return { start: j, stop: j + 1, single: true };
}

function axisRange(a: number, b: number, n: number, axis: string): AxisSel {
  const s = Math.min(n, Math.max(0, a < 0 ? n + a : a));
  const e = Math.min(n, Math.max(0, b < 0 ? n + b : b));
  if (e <= s) throw bad(`slice: range ${a}:${b} is empty on axis ${axis} of size ${n}`, 'give start:stop with start < stop');
  return { start: s, stop: e, single: false };
}

/** Normalises a slice against `shape` (with optional dim names for messages and `name=` items). */
export function parseSlice(input: SliceInput | undefined, shape: readonly number[], dims?: readonly string[]): AxisSel[] {
  const full = shape.map((n) => ({ start: 0, stop: n, single: false }));
  if (input === undefined) return full;
  const axisName = (i: number) => (dims?.[i] ? `${i} (${dims[i]})` : String(i));
  if (typeof input !== 'string') {
    if (input.length > shape.length) throw bad(`slice: ${input.length} indices for a tensor of ${shape.length} axes ${fmtShape(shape, dims)}`);
    return full.map((f, i) => {
      const x = input[i];
      if (x === undefined || x === null) return f;
      if (typeof x === 'number') return axisIndex(x, shape[i]!, axisName(i));
      return axisRange(x[0], x[1], shape[i]!, axisName(i));
    });
  }
  let text = input.trim();
  if (text === '' || text === '[]' || text === 'all') return full;
  if (text.includes('=')) return namedSlice(text, shape, dims);
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw bad(`slice: "${input}" opens a bracket it does not close`);
    text = text.slice(1, -1);
  }
  const items = text.split(',').map((s) => s.trim());
  const ell = items.indexOf('...');
  if (items.lastIndexOf('...') !== ell) throw bad('slice: at most one ... is allowed');
  let expanded = items;
  if (ell >= 0) {
    const fill = shape.length - (items.length - 1);
    if (fill < 0) throw bad(`slice: ${items.length - 1} indices for a tensor of ${shape.length} axes ${fmtShape(shape, dims)}`);
    expanded = [...items.slice(0, ell), ...Array<string>(fill).fill(':'), ...items.slice(ell + 1)];
  }
  if (expanded.length > shape.length) throw bad(`slice: ${expanded.length} indices for a tensor of ${shape.length} axes ${fmtShape(shape, dims)}`);
  return full.map((f, i) => (i < expanded.length ? axisFromText(expanded[i]!, shape[i]!, axisName(i)) : f));
}

function namedSlice(text: string, shape: readonly number[], dims?: readonly string[]): AxisSel[] {
  const out = shape.map((n) => ({ start: 0, stop: n, single: false }));
  const seen = new Set<number>();
  for (const part of text.replace(/^\[|\]$/g, '').split(/[\s,]+/).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw bad(`slice: "${part}" mixes named (dim=index) and positional items`, 'use either [0, 3, :] or pos=3 head=1');
    const name = part.slice(0, eq);
    const axis = dims ? dims.indexOf(name) : -1;
    if (axis < 0) throw bad(`slice: unknown dimension "${name}"; this tensor has ${dims ? dims.join(', ') : 'no named dimensions'}`, 'dimension names are shown by `where`');
    if (seen.has(axis)) throw bad(`slice: dimension ${name} is given twice`);
    seen.add(axis);
    out[axis] = axisFromText(part.slice(eq + 1), shape[axis]!, `${axis} (${name})`);
  }
  return out;
}

/** Shape of the selection, single axes dropped. */
export function selShape(sel: readonly AxisSel[]): number[] {
  return sel.filter((a) => !a.single).map((a) => a.stop - a.start);
}

export function selSize(sel: readonly AxisSel[]): number {
  return sel.reduce((n, a) => n * (a.stop - a.start), 1);
}

/** Calls `fn(flatIndex, k)` for every selected element in row-major order (k counts from 0). */
export function forEachSelected(sel: readonly AxisSel[], shape: readonly number[], fn: (flat: number, k: number) => void): void {
  const r = shape.length;
  const strides = new Array<number>(r).fill(1);
  for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1]! * shape[i + 1]!;
  const idx = sel.map((a) => a.start);
  const total = selSize(sel);
  for (let k = 0; k < total; k++) {
    let flat = 0;
    for (let i = 0; i < r; i++) flat += idx[i]! * strides[i]!;
    fn(flat, k);
    for (let i = r - 1; i >= 0; i--) {
      if (++idx[i]! < sel[i]!.stop) break;
      idx[i] = sel[i]!.start;
    }
  }
}

/** Multi-index of a flat row-major index. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return out;
}

/** The selected values with their flat indices into the full tensor. */
export function gatherSlice(data: ArrayLike<number>, shape: readonly number[], sel: readonly AxisSel[]): { shape: number[]; data: Float32Array; flat: Int32Array } {
  const n = selSize(sel);
  const out = new Float32Array(n);
  const flat = new Int32Array(n);
  forEachSelected(sel, shape, (f, k) => {
    out[k] = data[f]!;
    flat[k] = f;
  });
  return { shape: selShape(sel), data: out, flat };
}

export type EditOp = { kind: 'set'; values: readonly number[] } | { kind: 'scale'; factor: number };

/** A copy of `data` with the edit applied to the selection; a value list must match the slice's size. */
export function applyEdit(data: ArrayLike<number>, shape: readonly number[], sel: readonly AxisSel[], op: EditOp): Float32Array {
  const out = Float32Array.from(data);
  const n = selSize(sel);
  if (op.kind === 'set') {
    const v = op.values;
    if (v.length !== 1 && v.length !== n) {
      throw new LlmdbgError('hook_shape_mismatch', `set: ${v.length} values given for a slice of shape [${selShape(sel).join(', ')}] (${n} elements)`, { hint: 'give one value (broadcast) or exactly as many values as the slice holds' });
    }
    forEachSelected(sel, shape, (f, k) => {
      out[f] = v.length === 1 ? v[0]! : v[k]!;
    });
  } else {
    forEachSelected(sel, shape, (f) => {
      out[f] = out[f]! * op.factor;
    });
  }
  return out;
}
