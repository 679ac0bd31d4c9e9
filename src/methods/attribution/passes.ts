/**
 * Batched evaluation of the objective over many embedding rows (interpolation points, noisy
 * copies, occluded inputs) under a memory bound: rows are built lazily one batch at a time.
 *
 * `gradientPass` accumulates the weighted sum of gradients (and of squared gradients) per
 * objective term on the device and returns host arrays; `valuePass` runs forwards only.
 * Non-goals: deciding rows or weights (the methods do), per-row gradients on the host.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';
import { objectiveValues, type Objective } from './objective.js';
import { vjps } from './vjp.js';
import { rowsPerBatch } from './memory.js';
import { recycleForRepeatedShapes } from '../../engine/backend.js';
import type { AttributeProgress } from './types.js';

export interface RowSource {
  count: number;
  /** Positions and width of every row. */
  T: number;
  C: number;
  /** Rows [start, start + n) as embeddings [n, T, C]; called in increasing `start` order. */
  make(start: number, n: number): tf.Tensor3D;
}

export interface PassOptions {
  memoryMB?: number;
  reuseForward?: boolean;
  onProgress?: (p: AttributeProgress) => void;
}

export interface GradientPass {
  /** Per objective term g: sum_i w_i grad_g(row_i), flat [T * C]. */
  sum: Float32Array[];
  /** Per term: sum_i w_i grad_g(row_i)^2 (only when asked). */
  sumSq: Float32Array[] | null;
  /** Objective values [count, G], row-major. */
  values: Float32Array;
  forwardRows: number;
  backwardRows: number;
  batchRows: number;
  sharedForward: boolean;
}

export async function gradientPass(model: Model, obj: Objective, rows: RowSource, weights: readonly number[], opts: PassOptions & { squares?: boolean } = {}): Promise<GradientPass> {
  const G = obj.positions.length;
  const { T, C } = rows;
  const batch = rowsPerBatch(model.config, T, G, rows.count, opts.memoryMB);
  // Several passes of the same shapes: keep their freed outputs for the next pass (native backend;
  // GPT-2-small 32-step IG 6.5 -> 6.1 s), up to the memory budget the batch was sized for.
  const restorePool = rows.count > batch ? recycleForRepeatedShapes(Math.min(opts.memoryMB ?? 1024, 1024) * 2 ** 20) : () => {};
  let sum: tf.Tensor[] = Array.from({ length: G }, () => tf.zeros([T, C]));
  let sumSq: tf.Tensor[] | null = opts.squares ? Array.from({ length: G }, () => tf.zeros([T, C])) : null;
  const values = new Float32Array(rows.count * G);
  let forwardRows = 0;
  let backwardRows = 0;
  let shared = G > 1;
  try {
    for (let start = 0; start < rows.count; start += batch) {
      const n = Math.min(batch, rows.count - start);
      const x = rows.make(start, n);
      const dys = Array.from({ length: G }, (_, g) => {
        const d = new Float32Array(n * G);
        for (let i = 0; i < n; i++) d[i * G + g] = 1;
        return tf.tensor2d(d, [n, G]); // cotangent: term g of every row
      });
      let r;
      try {
        r = vjps((e) => objectiveValues(model, e as tf.Tensor3D, obj), x, dys, opts.reuseForward === false ? { reuseForward: false } : {});
      } finally {
        for (const d of dys) d.dispose();
      }
      forwardRows += n * r.forwards;
      backwardRows += n * G;
      shared &&= r.forwards === 1;
      values.set((await r.value.data()) as Float32Array, start * G);
      r.value.dispose();
      const w = tf.tensor3d(weights.slice(start, start + n) as number[], [n, 1, 1]);
      const nextSum = tf.tidy(() => sum.map((s, g) => tf.add(s, tf.sum(tf.mul(r.grads[g]!, w), 0))));
      const nextSq = sumSq ? tf.tidy(() => sumSq!.map((s, g) => tf.add(s, tf.sum(tf.mul(tf.square(r.grads[g]!), w), 0)))) : null;
      for (const t of [...sum, ...(sumSq ?? []), ...r.grads, w, x]) t.dispose();
      sum = nextSum;
      sumSq = nextSq;
      opts.onProgress?.({ phase: 'gradients', done: start + n, total: rows.count });
    }
    const host = async (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
    return { sum: await host(sum), sumSq: sumSq ? await host(sumSq) : null, values, forwardRows, backwardRows, batchRows: batch, sharedForward: shared };
  } finally {
    for (const t of [...sum, ...(sumSq ?? [])]) t.dispose();
    restorePool();
  }
}

/** Objective values [count, G] of every row, forward only. */
export async function valuePass(model: Model, obj: Objective, rows: RowSource, opts: PassOptions = {}): Promise<{ values: Float32Array; batchRows: number }> {
  const G = obj.positions.length;
  const batch = rowsPerBatch(model.config, rows.T, G, rows.count, opts.memoryMB, false);
  const values = new Float32Array(rows.count * G);
  for (let start = 0; start < rows.count; start += batch) {
    const n = Math.min(batch, rows.count - start);
    const v = tf.tidy(() => objectiveValues(model, rows.make(start, n), obj));
    values.set((await v.data()) as Float32Array, start * G);
    v.dispose();
    opts.onProgress?.({ phase: 'forward', done: start + n, total: rows.count });
  }
  return { values, batchRows: batch };
}
