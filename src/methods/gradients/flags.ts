/**
 * Flags for gradient statistics: `nonfinite` (NaN or Infinity entries), `zero` (no gradient
 * reaches the tensor), `vanishing` and `exploding` (RMS far below or above the median of its group,
 * or beyond absolute limits). A group is the same hook site, or the same parameter, across layers.
 * Non-goals: thresholds that adapt to the loss scale beyond the group median.
 */
export type GradFlag = 'nonfinite' | 'zero' | 'vanishing' | 'exploding';

export interface Thresholds {
  /** Vanishing when rms < vanishRatio x the group's median rms. */
  vanishRatio: number;
  /** Exploding when rms > explodeRatio x the group's median rms. */
  explodeRatio: number;
  /** Vanishing when rms < vanishAbs (for any non-zero gradient). */
  vanishAbs: number;
  /** Exploding when rms > explodeAbs. */
  explodeAbs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { vanishRatio: 1e-3, explodeRatio: 1e3, vanishAbs: 1e-10, explodeAbs: 1e4 };

export interface Flaggable {
  group: string;
  rms: number;
  norm: number;
  nonFinite: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Flags for each item, comparing it with the other members of its group. */
export function flagAll(items: readonly Flaggable[], t: Thresholds = DEFAULT_THRESHOLDS): GradFlag[][] {
  const groups = new Map<string, number[]>();
  for (const it of items) if (Number.isFinite(it.rms) && it.rms > 0) groups.set(it.group, [...(groups.get(it.group) ?? []), it.rms]);
  const med = new Map([...groups].map(([g, v]) => [g, median(v)]));
  return items.map((it) => {
    const f: GradFlag[] = [];
    if (it.nonFinite > 0) f.push('nonfinite');
    if (it.norm === 0 && it.nonFinite === 0) {
      f.push('zero');
      return f;
    }
    const m = med.get(it.group);
    if (it.rms < t.vanishAbs || (m !== undefined && it.rms < t.vanishRatio * m)) f.push('vanishing');
    if (it.rms > t.explodeAbs || (m !== undefined && it.rms > t.explodeRatio * m)) f.push('exploding');
    return f;
  });
}
