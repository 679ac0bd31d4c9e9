/**
 * Occlusion (leave-one-out): score_t = f(x) - f(x with position t replaced), gradient-free, as a
 * cross-check of the gradient methods. The replacement is a token's embedding or the zero vector.
 *
 * One forward per source position (batched); for a continuation each forward gives every
 * continuation token's change at once. Non-goals: sliding windows over several positions.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';
import type { Objective } from './objective.js';
import { valuePass, type PassOptions } from './passes.js';
import type { MethodOutput } from './gradient-methods.js';

export async function occlusion(model: Model, obj: Objective, x: tf.Tensor3D, replacement: tf.Tensor3D, fInput: readonly number[], opts: PassOptions): Promise<MethodOutput> {
  const [, T, C] = x.shape;
  const G = obj.positions.length;
  const rows = {
    count: T, T, C,
    make: (start: number, n: number) => tf.tidy(() => {
      const m = new Float32Array(n * T);
      for (let j = 0; j < n; j++) m[j * T + start + j] = 1;
      const mask = tf.tensor3d(m, [n, T, 1]);
      return tf.add(tf.mul(x, tf.sub(1, mask)), tf.mul(replacement, mask)) as tf.Tensor3D; // [n, T, C]
    }),
  };
  const r = await valuePass(model, obj, rows, opts);
  const scores = Array.from({ length: G }, (_, g) => {
    const s = new Float64Array(T);
    for (let t = 0; t < T; t++) s[t] = fInput[g]! - r.values[t * G + g]!;
    return s;
  });
  return { scores, parameters: {}, cost: { forwardRows: T, backwardRows: 0, batchRows: r.batchRows, sharedForward: false } };
}
