/**
 * The training loss: mean next-token cross-entropy over the positions whose mask is 1 (padding
 * and prompt tokens carry mask 0). B = batch, T = positions, V = vocabulary.
 * Non-goals: label smoothing, z-loss.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * -sum(mask * log softmax(logits)[target]) / max(1, sum(mask)). `count` is sum(mask), known on the
 * host, so no device read is needed. The target pick is a one-hot product (differentiable everywhere).
 */
export function maskedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D, count: number): tf.Scalar {
  const [B, T, V] = logits.shape;
  const logp = tf.logSoftmax(tf.reshape(logits, [B * T, V])); // [B T, V]
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.reshape(targets, [B * T]) as tf.Tensor1D, V)), -1); // [B T]
  return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.reshape(mask, [B * T])))), Math.max(1, count)) as tf.Scalar;
}
