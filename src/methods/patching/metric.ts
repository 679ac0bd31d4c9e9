/**
 * Metrics of patching runs, computed from last-position logits on the host: the logit difference
 * between a target and a foil token, the target's probability, and the share of the
 * clean-minus-corrupted gap that a patched run recovers. Non-goal: running models.
 */
import { logSoftmax } from '../interventions/compare.js';

export interface TargetFoil {
  target: number;
  /** null: the metric is the target's logit alone. */
  foil: number | null;
}

function argmax(row: ArrayLike<number>, skip = -1): number {
  let best = -1;
  for (let i = 0; i < row.length; i++) if (i !== skip && (best < 0 || row[i]! > row[best]!)) best = i;
  return best;
}

/** Default tokens: target = clean top-1; foil = corrupted top-1 (its runner-up when that equals the target). */
export function chooseTargetFoil(clean: ArrayLike<number>, corrupt: ArrayLike<number>, target?: number, foil?: number | null): TargetFoil {
  const t = target ?? argmax(clean);
  if (foil !== undefined) return { target: t, foil };
  const f = argmax(corrupt);
  return { target: t, foil: f === t ? argmax(corrupt, t) : f };
}

export function logitDiff(logits: ArrayLike<number>, m: TargetFoil): number {
  return logits[m.target]! - (m.foil === null ? 0 : logits[m.foil]!);
}

export function targetProb(logits: ArrayLike<number>, target: number): number {
  return Math.exp(logSoftmax(logits)[target]!);
}

/**
 * (patched - corrupt) / (clean - corrupt): 0 = no effect, 1 = fully restored.
 * null when clean and corrupt give the same value (nothing to recover).
 */
export function recoveredShare(patched: number, clean: number, corrupt: number): number | null {
  const gap = clean - corrupt;
  if (Math.abs(gap) < 1e-6 * Math.max(1, Math.abs(clean))) return null;
  return (patched - corrupt) / gap;
}
