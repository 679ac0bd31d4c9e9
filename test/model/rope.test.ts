/**
 * Rotary embeddings (src/model/layers/rope.ts): against the closed form (each pair of lanes
 * (d, d + D/2) rotated by the angle position x inv_freq), and the fused native kernel
 * (src/engine/fused.ts Rope / RopeGrad) against the composite tf ops bit for bit, output and input
 * gradient (on other backends both paths are the composite).
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients } from '../../src/engine/gradients.js';
import { setFusedEnabled } from '../../src/engine/fused.js';
import { applyRope, ropeTables } from '../../src/model/layers/rope.js';
import { useTestBackend } from '../helpers/backend.js';

const [B, T, N, D] = [3, 5, 4, 8];
const theta = 10000;

describe('rotary embeddings', () => {
  before(async () => {
    await useTestBackend();
    registerGradients();
  });

  it('rotates each lane pair by position x inv_freq (closed form, float64 reference)', () => {
    const offset = 7;
    const x = tf.randomNormal([B, T, N, D], 0, 1, 'float32', 5);
    const { cos, sin } = ropeTables(theta, D, offset, T);
    const got = tf.tidy(() => applyRope(x as tf.Tensor4D, cos, sin).dataSync());
    const xv = x.dataSync();
    const h = D / 2;
    let worst = 0;
    for (let r = 0; r < B * T * N; r++) {
      const t = Math.floor(r / N) % T;
      for (let i = 0; i < h; i++) {
        const angle = (offset + t) * Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / D)));
        const [a, b] = [xv[r * D + i]!, xv[r * D + i + h]!];
        worst = Math.max(worst, Math.abs(got[r * D + i]! - (a * Math.cos(angle) - b * Math.sin(angle))), Math.abs(got[r * D + i + h]! - (b * Math.cos(angle) + a * Math.sin(angle))));
      }
    }
    assert.ok(worst < 1e-5, `max error ${worst}`);
    tf.dispose([x, cos, sin]);
  });

  it('the fused kernel gives the composite\'s bytes, forward and input gradient', () => {
    const x = tf.randomNormal([B, T, N, D], 0, 1, 'float32', 6);
    const r = tf.randomNormal([B, T, N, D], 0, 1, 'float32', 7);
    // zeros in x and r: the zero terms of the gradient's sums decide the sign of a zero
    const xz = tf.tidy(() => tf.mul(x, tf.cast(tf.greater(tf.abs(x), 0.3), 'float32')));
    const { cos, sin } = ropeTables(theta, D, 0, T);
    const run = (on: boolean) => {
      setFusedEnabled(on);
      try {
        return tf.tidy(() => {
          const y = applyRope(xz as tf.Tensor4D, cos, sin);
          const g = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(applyRope(e as tf.Tensor4D, cos, sin), r)))(xz);
          return [y, g].map((t) => Buffer.from((t.dataSync() as Float32Array).slice().buffer));
        });
      } finally {
        setFusedEnabled(true);
      }
    };
    const [composite, fused] = [run(false), run(true)];
    assert.ok(composite[0]!.equals(fused[0]!), 'forward bytes differ');
    assert.ok(composite[1]!.equals(fused[1]!), 'gradient bytes differ');
    tf.dispose([x, r, xz, cos, sin]);
  });
});
