/**
 * Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ (PyTorch 1.13): total =
 * ||(||g_i||_2)_i||_2, every gradient multiplied by min(1, maxNorm / (total + 1e-6)).
 * Runs on the device; call inside tf.tidy. Non-goals: other norm types.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Returns the clipped gradients (same names) and the total norm before clipping. */
export function clipByGlobalNorm(grads: Readonly<Record<string, tf.Tensor>>, maxNorm: number | null): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const norms = names.map((n) => tf.sqrt(tf.sum(tf.square(grads[n]!))));
  const norm = tf.sqrt(tf.sum(tf.square(tf.stack(norms)))) as tf.Scalar;
  if (maxNorm === null) return { grads: { ...grads }, norm };
  const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.mul(grads[n]!, coef);
  return { grads: out, norm };
}
