/**
 * Rotary position embeddings in the rotate-half layout that Hugging Face uses for Llama-family
 * checkpoints: x * cos + rotate_half(x) * sin, with cos/sin of [freqs, freqs].
 */
import * as tf from '@tensorflow/tfjs-core';
import { FusedKernel, fusedRope, hasFused } from '../../engine/fused.js';

/** cos and sin tables for positions [offset, offset + T), each [T, D]. Computed in float64, stored as float32. */
export function ropeTables(theta: number, dHead: number, offset: number, T: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = dHead / 2;
  const cos = new Float32Array(T * dHead);
  const sin = new Float32Array(T * dHead);
  for (let i = 0; i < half; i++) {
    // inv_freq as Hugging Face computes it in float32
    const invFreq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / dHead)));
    for (let t = 0; t < T; t++) {
      const angle = Math.fround((offset + t) * invFreq);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * dHead + i] = c;
      cos[t * dHead + i + half] = c;
      sin[t * dHead + i] = s;
      sin[t * dHead + i + half] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [T, dHead]), sin: tf.tensor2d(sin, [T, dHead]) };
}

/** x: [B, T, N, D] (N heads) -> same shape, rotated by position. cos/sin: [T, D]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  if (hasFused(FusedKernel.Rope)) return fusedRope(x, cos, sin) as tf.Tensor4D; // one kernel, same bytes (src/engine/fused.ts)
  const [B, T, N, D] = x.shape;
  const half = D / 2;
  const x1 = tf.slice(x, [0, 0, 0, 0], [B, T, N, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [B, T, N, half]);
  const rotated = tf.concat([tf.neg(x2), x1], 3); // rotate_half(x)
  const c = tf.reshape(cos, [1, T, 1, D]);
  const s = tf.reshape(sin, [1, T, 1, D]);
  return tf.add(tf.mul(x, c), tf.mul(rotated, s)) as tf.Tensor4D;
}
