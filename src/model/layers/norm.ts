/**
 * LayerNorm (GPT-2) and RMSNorm (Llama family) over the last axis, in float32 tf ops; LayerNorm runs
 * as one fused kernel on backends that have it (the native one, src/engine/fused.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NormParams } from '../params.js';
import { FusedKernel, fusedLayerNorm, hasFused } from '../../engine/fused.js';

/** x: [..., C] -> [..., C]. LayerNorm uses the biased variance, as PyTorch does. */
export function layerNorm(x: tf.Tensor, p: NormParams, eps: number): tf.Tensor {
  if (hasFused(FusedKernel.LayerNorm)) return fusedLayerNorm(x, p.w, p.b ?? null, eps); // one kernel (src/engine/fused.ts)
  const mean = tf.mean(x, -1, true); // [..., 1]
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  const normed = tf.mul(centered, tf.rsqrt(tf.add(variance, eps)));
  const scaled = tf.mul(normed, p.w);
  return p.b ? tf.add(scaled, p.b) : scaled;
}

/** x: [..., C] -> [..., C]; w * x / sqrt(mean(x^2) + eps). */
export function rmsNorm(x: tf.Tensor, p: NormParams, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), p.w);
}

export function norm(kind: 'layernorm' | 'rmsnorm', x: tf.Tensor, p: NormParams, eps: number): tf.Tensor {
  return kind === 'layernorm' ? layerNorm(x, p, eps) : rmsNorm(x, p, eps);
}
