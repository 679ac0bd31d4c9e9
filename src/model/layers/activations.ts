/**
 * The MLP activations of the supported families, by their Hugging Face names.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from '../../formats/config.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function activate(name: Activation, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }
    case 'gelu':
      // exact: 0.5 x (1 + erf(x / sqrt 2))
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    case 'quick_gelu':
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    case 'relu':
      return tf.relu(x);
    case 'silu':
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
  }
}
