/**
 * Overflow-safe statistics of a gradient tensor on the device: L2 norm (scaled by the max so that
 * huge finite values do not overflow float32), max |value|, count of non-finite entries, and the
 * sum of gradient x activation. Masked attention scores (the float32 minimum) count as 0.
 * Non-goals: histograms or per-row statistics.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface TensorStats {
  norm: number;
  maxAbs: number;
  nonFinite: number;
}

/** Entries at or below this are masked attention scores, not activations. */
const MASKED = -1e38;

/** [norm, maxAbs, nonFinite] of x, ignoring non-finite entries in norm and max. */
function statsTensor(x: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const finite = tf.isFinite(x);
    const clean = tf.where(finite, x, tf.zerosLike(x));
    const maxAbs = tf.max(tf.abs(clean));
    const scale = tf.maximum(maxAbs, 1e-30);
    const norm = tf.mul(tf.sqrt(tf.sum(tf.square(tf.div(clean, scale)))), scale);
    const bad = tf.sum(tf.cast(tf.logicalNot(finite), 'float32'));
    return tf.stack([norm, maxAbs, bad]) as tf.Tensor1D;
  });
}

/** Activation with masked attention scores set to 0. */
export function unmasked(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.greater(x, MASKED), x, tf.zerosLike(x)));
}

/** Statistics of many tensors with one device read. */
export async function statsOf(ts: readonly tf.Tensor[]): Promise<TensorStats[]> {
  if (ts.length === 0) return [];
  const all = tf.tidy(() => tf.stack(ts.map(statsTensor)));
  const d = (await all.data()) as Float32Array;
  all.dispose();
  return ts.map((_, i) => ({ norm: d[3 * i]!, maxAbs: d[3 * i + 1]!, nonFinite: d[3 * i + 2]! }));
}

/** sum(g * x) per pair (x with masked scores as 0), with one device read. */
export async function dotsOf(gs: readonly tf.Tensor[], xs: readonly tf.Tensor[]): Promise<number[]> {
  if (gs.length === 0) return [];
  const all = tf.tidy(() => tf.stack(gs.map((g, i) => tf.sum(tf.mul(g, unmasked(xs[i]!))))));
  const d = (await all.data()) as Float32Array;
  all.dispose();
  return Array.from(d);
}
