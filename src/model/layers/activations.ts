/**
 * The MLP activations of the supported families, by their Hugging Face names.
 * The tanh GELU cubes with `x * square(x)` (WASM's `Pow` costs 6.5 ms per [64, 3072] against
 * 0.44 ms for Square + Mul, bench/README.md) and carries its own gradient: the backward keeps only
 * x and tanh(.) per call instead of every intermediate of the formula.
 * Backends with a fused tanh-GELU kernel (the native one, src/engine/fused.ts) run that instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from '../../formats/config.js';
import { FusedKernel, fusedGeluTanh, hasFused } from '../../engine/fused.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/**
 * 0.5 x (1 + t), t = tanh(sqrt(2/pi) (x + c x^3)); d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2).
 * The forward's intermediates are freed at once (customGrad runs it in a tidy, off the tape).
 */
const geluTanh = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const t = tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(x, tf.square(x)), GELU_C)), SQRT_2_OVER_PI));
  save([x, t]);
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(t, 1)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ts] = saved as [tf.Tensor, tf.Tensor];
      const dInner = tf.mul(tf.add(tf.mul(tf.square(xs), 3 * GELU_C * SQRT_2_OVER_PI), SQRT_2_OVER_PI), tf.mul(xs, tf.sub(1, tf.square(ts)))); // x (1 - t^2) d(inner)/dx
      return tf.mul(dy, tf.mul(tf.add(tf.add(ts, 1), dInner), 0.5));
    },
  };
});

export function activate(name: Activation, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); one kernel where the backend has it
      return hasFused(FusedKernel.GeluTanh) ? fusedGeluTanh(x) : geluTanh(x);
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
