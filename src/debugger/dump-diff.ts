/**
 * Comparing two dumps in execution order: per tensor the largest difference, and the first hook
 * point where they differ beyond a tolerance (|a - b| > atol + rtol |b|, NaN equal only to NaN):
 * where two runs, two checkpoints or two backends part. Shape changes and tensors present in only
 * one dump count as differences. Non-goals: aligning runs of different prompts (they are reported).
 */
import type { Dump, DumpEntry } from './dump.js';

export interface DiffTolerance {
  atol: number;
  rtol: number;
}

export interface EntryDiff {
  key: string;
  hook: string;
  layer: number | null;
  step: number;
  status: 'same' | 'differs' | 'shape' | 'only_a' | 'only_b';
  maxAbsDiff: number | null;
  /** Elements beyond the tolerance. */
  badCount: number;
  /** Flat index of the worst element beyond the tolerance, with both values. */
  worst: { index: number; a: number; b: number } | null;
}

export interface DumpDiff {
  a: string;
  b: string;
  sameModel: boolean;
  sameIds: boolean;
  tolerance: DiffTolerance;
  entries: EntryDiff[];
  firstDifference: EntryDiff | null;
  info: { method: 'dump-diff'; durationMs: number };
}

export function compareArrays(a: ArrayLike<number>, b: ArrayLike<number>, tol: DiffTolerance): Pick<EntryDiff, 'maxAbsDiff' | 'badCount' | 'worst'> {
  let max = 0, bad = 0, worst = -1, worstExcess = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (x !== x && y !== y) continue;
    if (x === y) continue; // also equal infinities
    const raw = Math.abs(x - y);
    const d = raw !== raw ? Infinity : raw; // NaN against a number counts as infinitely far
    const excess = d - (tol.atol + tol.rtol * Math.abs(y));
    if (d > max) max = d;
    if (!(excess <= 0)) {
      bad++;
      if (worst < 0 || excess > worstExcess) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  return { maxAbsDiff: max, badCount: bad, worst: worst < 0 ? null : { index: worst, a: a[worst]!, b: b[worst]! } };
}

function base(e: DumpEntry): Pick<EntryDiff, 'key' | 'hook' | 'layer' | 'step'> {
  return { key: e.key, hook: e.hook, layer: e.layer, step: e.step };
}

export function compareDumps(a: Dump, b: Dump, tolerance: DiffTolerance = { atol: 1e-5, rtol: 1e-5 }): DumpDiff {
  const t0 = performance.now();
  const entries: EntryDiff[] = [];
  for (const ea of a.manifest.tensors) {
    const eb = b.entry(ea.key);
    if (!eb) {
      entries.push({ ...base(ea), status: 'only_a', maxAbsDiff: null, badCount: 0, worst: null });
      continue;
    }
    if (ea.shape.join(',') !== eb.shape.join(',')) {
      entries.push({ ...base(ea), status: 'shape', maxAbsDiff: null, badCount: 0, worst: null });
      continue;
    }
    const r = compareArrays(a.read(ea.key).data, b.read(eb.key).data, tolerance);
    entries.push({ ...base(ea), status: r.badCount > 0 ? 'differs' : 'same', ...r });
  }
  const inA = new Set(a.keys());
  for (const eb of b.manifest.tensors) if (!inA.has(eb.key)) entries.push({ ...base(eb), status: 'only_b', maxAbsDiff: null, badCount: 0, worst: null });
  return {
    a: a.dir,
    b: b.dir,
    sameModel: a.manifest.model.sha256 === b.manifest.model.sha256,
    sameIds: a.manifest.ids.join(',') === b.manifest.ids.join(','),
    tolerance,
    entries,
    firstDifference: entries.find((e) => e.status !== 'same') ?? null,
    info: { method: 'dump-diff', durationMs: Math.round(performance.now() - t0) },
  };
}
