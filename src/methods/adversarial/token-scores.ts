/**
 * First-order token scores from the gradient of the goal loss w.r.t. input embeddings g [T, C]:
 * s[t, v] = g_t . E[v], the gradient w.r.t. the one-hot input (GCG), and the HotFlip estimate of
 * the loss change of swapping x_t for v, s[t, v] - s[t, x_t] = (E[v] - E[x_t]) . g_t. One matmul
 * [P, C] x [C, V], never a loop over the vocabulary. Also deterministic smallest-k selection.
 *
 * Non-goals: exact evaluation of swaps (goal.ts), second-order terms.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';

/** s[p, v] = g_{positions[p]} . E[v], host [P * V]; `grad` is host [T * C]. */
export async function tokenGradients(model: Model, grad: Float32Array, positions: readonly number[]): Promise<Float32Array> {
  const C = model.config.dModel;
  const rows = new Float32Array(positions.length * C);
  positions.forEach((t, p) => rows.set(grad.subarray(t * C, (t + 1) * C), p * C));
  const s = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [positions.length, C]), model.params.wte, false, true)); // [P, V]
  try {
    return (await s.data()) as Float32Array;
  } finally {
    s.dispose();
  }
}

/** HotFlip estimates est[p, v] = (E[v] - E[x_t]) . g_t for t = positions[p], host [P * V]. */
export async function flipEstimates(model: Model, grad: Float32Array, ids: readonly number[], positions: readonly number[]): Promise<Float32Array> {
  const V = model.config.vocabSize;
  const s = await tokenGradients(model, grad, positions);
  positions.forEach((t, p) => {
    const row = s.subarray(p * V, (p + 1) * V);
    const own = row[ids[t]!]!;
    for (let v = 0; v < V; v++) row[v] = row[v]! - own;
  });
  return s;
}

/**
 * Indices of the k smallest finite values among those `keep` accepts, ascending by value and then
 * by index (deterministic); fewer when fewer qualify.
 */
export function smallestK(values: ArrayLike<number>, k: number, keep: (i: number) => boolean = () => true): number[] {
  if (k <= 0) return [];
  if (k > 64) {
    // large k: sort everything that qualifies (insertion below is O(n k))
    const all: number[] = [];
    for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!) && keep(i)) all.push(i);
    return all.sort((a, b) => values[a]! - values[b]! || a - b).slice(0, k);
  }
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x) || !keep(i)) continue;
    if (idx.length === k && !(x < val[k - 1]!)) continue;
    // insertion into the sorted buffer (k is small; equal values keep index order)
    let j = Math.min(idx.length, k - 1);
    if (idx.length < k) {
      idx.push(i);
      val.push(x);
    }
    while (j > 0 && val[j - 1]! > x) {
      idx[j] = idx[j - 1]!;
      val[j] = val[j - 1]!;
      j--;
    }
    idx[j] = i;
    val[j] = x;
  }
  return idx;
}
