/**
 * Seeded Gaussian noise for SmoothGrad and VarGrad, and the embedding scale it is relative to.
 *
 * Noise is Box-Muller over the project's xoshiro128** generator (`Rng.float`, 53-bit uniforms),
 * drawn sample by sample in row-major order, so it does not depend on the batch size and an
 * independent implementation (tools/make_attribution_fixtures.py) reproduces it bit for bit
 * before the float32 cast. Non-goals: other noise distributions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../../engine/rng.js';
import type { Model } from '../../model/model.js';

/** Standard normal draws: pairs from one Box-Muller transform (cos first, then sin). */
export class GaussianStream {
  private spare: number | null = null;
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  next(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = this.rng.float();
    const u2 = this.rng.float();
    const r = Math.sqrt(-2 * Math.log(1 - u1)); // 1 - u1 is in (0, 1]
    const th = 2 * Math.PI * u2;
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  fill(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }
}

const scaleCache = new WeakMap<object, number>();

/** Standard deviation of all entries of the token-embedding matrix (population). */
export function embeddingScale(model: Model): number {
  const hit = scaleCache.get(model.params.wte);
  if (hit !== undefined) return hit;
  const v = tf.tidy(() => tf.moments(model.params.wte).variance);
  const s = Math.sqrt((v.dataSync() as Float32Array)[0]!);
  v.dispose();
  scaleCache.set(model.params.wte, s);
  return s;
}
