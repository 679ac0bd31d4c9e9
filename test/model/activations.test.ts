/**
 * The tanh GELU (`gelu_new`) and its hand-written gradient (src/model/layers/activations.ts):
 * values against the float64 formula, the gradient against central finite differences of that
 * formula (an independent check of the closed form), and no tensors left behind by a backward.
 * Non-goals: the other activations (covered end to end by the parity fixtures).
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { activate } from '../../src/model/layers/activations.js';
import { useTestBackend } from '../helpers/backend.js';

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const xs = [-6, -3.1, -1.7, -1, -0.5, -0.01, 0, 0.01, 0.3, 0.9, 1.4, 2.2, 4, 7.5];

describe('gelu_new', () => {
  before(async () => {
    await useTestBackend();
  });

  it('values match the float64 formula', () => {
    const y = tf.tidy(() => activate('gelu_new', tf.tensor1d(xs)).dataSync());
    xs.forEach((x, i) => assert.ok(Math.abs(y[i]! - gelu(x)) < 1e-6 * (1 + Math.abs(gelu(x))), `x=${x}: ${y[i]} vs ${gelu(x)}`));
  });

  it('the gradient matches central finite differences, also inside a larger graph; nothing leaks', () => {
    const n0 = tf.memory().numTensors;
    const w = xs.map((_, i) => 0.5 + 0.25 * (i % 3)); // loss = sum(w * gelu(2x - 0.5)), chain rule through the customGrad
    const g = tf.tidy(() => {
      const wt = tf.tensor1d(w);
      return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(wt, activate('gelu_new', tf.sub(tf.mul(x, 2), 0.5)))))(tf.tensor1d(xs)).dataSync();
    });
    const h = 1e-5;
    xs.forEach((x, i) => {
      const fd = (w[i]! * (gelu(2 * (x + h) - 0.5) - gelu(2 * (x - h) - 0.5))) / (2 * h);
      assert.ok(Math.abs(g[i]! - fd) < 2e-5 * (1 + Math.abs(fd)), `x=${x}: ${g[i]} vs finite difference ${fd}`);
    });
    assert.equal(tf.memory().numTensors, n0);
  });

  it('gelu_pytorch_tanh and gelu_fast are the same function', () => {
    const [a, b, c] = tf.tidy(() => ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].map((n) => activate(n as 'gelu_new', tf.tensor1d(xs)).dataSync()));
    assert.deepEqual([...b!], [...a!]);
    assert.deepEqual([...c!], [...a!]);
  });
});
