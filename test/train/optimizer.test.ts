/**
 * Closed forms for the optimizer pieces: AdamW on a 2-element parameter over 3 steps (values
 * worked out by hand with b1 = 1/2, b2 = 3/4, so the moments are exact binary fractions), the
 * decay groups, the warmup + cosine schedule, global-norm clipping and the masked loss with its
 * gradient softmax - onehot.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { AdamW } from '../../src/train/adamw.js';
import { clipByGlobalNorm } from '../../src/train/clip.js';
import { maskedCrossEntropy } from '../../src/train/loss.js';
import { checkSchedule, lrAt } from '../../src/train/schedule.js';
import { decayNames } from '../../src/train/trainable.js';
import { registerGradients } from '../../src/engine/gradients.js';
import { setFusedEnabled } from '../../src/engine/fused.js';
import { LlmdbgError } from '../../src/errors.js';

before(async () => {
  await useTestBackend();
  registerGradients();
});

const F32 = { atol: 1e-6, rtol: 1e-6 };

describe('AdamW', () => {
  it('three steps on a 2-element parameter match the hand-computed values (decay on)', () => {
    const p = tf.variable(tf.tensor1d([1, 2]), true, 'adamw-test-p');
    const opt = new AdamW(new Map([['p', p]]), new Set(['p']), { beta1: 0.5, beta2: 0.75, eps: 1e-8, weightDecay: 0.5 });
    const grads = [[1, -2], [3, 0], [-1, 4]];
    const lrs = [0.1, 0.2, 0.05];
    // step 1: m = [0.5, -1], v = [0.25, 1]; m^ = m / 0.5 = [1, -2], v^ = v / 0.25 = [1, 4]
    //   p = [1, 2] * (1 - 0.1 * 0.5) - 0.1 * [1 / (1 + eps), -2 / (2 + eps)] = [0.85, 2.0]
    // step 2: m = [1.75, -0.5], v = [2.4375, 0.75]; bc1 = 0.75, bc2 = 0.4375
    //   p = [0.85, 2.0] * 0.9 - 0.2 * (m / 0.75) / (sqrt(v / 0.4375) + eps)
    // step 3: m = [0.375, 1.75], v = [2.078125, 4.5625]; bc1 = 0.875, bc2 = 0.578125
    //   p = p2 * 0.975 - 0.05 * (m / 0.875) / (sqrt(v / 0.578125) + eps)
    const eps = 1e-8;
    const p1 = [0.85 - 0.1 * (1 / (1 + eps) - 1), 2.0 + 0.1 * (2 / (2 + eps) - 1)];
    const p2 = [p1[0]! * 0.9 - (0.2 * (1.75 / 0.75)) / (Math.sqrt(2.4375 / 0.4375) + eps), p1[1]! * 0.9 - (0.2 * (-0.5 / 0.75)) / (Math.sqrt(0.75 / 0.4375) + eps)];
    const p3 = [p2[0]! * 0.975 - (0.05 * (0.375 / 0.875)) / (Math.sqrt(2.078125 / 0.578125) + eps), p2[1]! * 0.975 - (0.05 * (1.75 / 0.875)) / (Math.sqrt(4.5625 / 0.578125) + eps)];
    const expected = [p1, p2, p3];
    assertClose('p1 literal', p1, [0.85, 2.0], { atol: 1e-8, rtol: 0 });
    grads.forEach((g, i) => {
      tf.tidy(() => opt.update({ p: tf.tensor1d(g) }, lrs[i]!));
      assertClose(`after step ${i + 1}`, p.dataSync(), expected[i]!, F32);
    });
    assert.equal(opt.step, 3);
    opt.dispose();
    p.dispose();
  });

  it('the fused kernel (native) gives the composite tf ops\' bytes: four steps, decay on and off', () => {
    const n = 50003; // several threads' chunks and a ragged end
    const rand = (seed: number) => tf.randomNormal([n], 0, 1, 'float32', seed);
    const run = (fusedOn: boolean) => {
      setFusedEnabled(fusedOn);
      try {
        const a = tf.variable(rand(1), true, `adamw-fused-a-${fusedOn}`);
        const b = tf.variable(rand(2), true, `adamw-fused-b-${fusedOn}`);
        const opt = new AdamW(new Map([['a', a], ['b', b]]), new Set(['a']), { weightDecay: 0.1 });
        for (let s = 0; s < 4; s++) tf.tidy(() => opt.update({ a: rand(10 + s), b: rand(20 + s) }, 1e-2 * (s + 1)));
        const out = [a, b].map((t) => Buffer.from((t.dataSync() as Float32Array).slice().buffer));
        opt.dispose();
        tf.dispose([a, b]);
        return out;
      } finally {
        setFusedEnabled(true);
      }
    };
    const [composite, fused] = [run(false), run(true)];
    assert.ok(composite[0]!.equals(fused[0]!) && composite[1]!.equals(fused[1]!), 'fused AdamW must be bit-identical to the composite');
  });

  it('no decay outside the decay set; a parameter without a gradient is skipped', () => {
    const a = tf.variable(tf.tensor1d([1, -1]), true, 'adamw-test-a');
    const b = tf.variable(tf.tensor1d([3]), true, 'adamw-test-b');
    const opt = new AdamW(new Map([['a', a], ['b', b]]), new Set(), { weightDecay: 0.5 });
    tf.tidy(() => opt.update({ a: tf.tensor1d([0, 0]) }, 0.1));
    assert.deepEqual(Array.from(a.dataSync()), [1, -1], 'zero gradient and no decay: unchanged');
    assert.deepEqual(Array.from(b.dataSync()), [3], 'no gradient: untouched');
    opt.dispose();
    a.dispose();
    b.dispose();
  });

  it('state round-trips: getState then setState on a fresh optimizer continues identically', async () => {
    const mk = (name: string) => tf.variable(tf.tensor1d([0.5, -0.25, 2]), true, name);
    const [x, y] = [mk('adamw-rt-x'), mk('adamw-rt-y')];
    const o1 = new AdamW(new Map([['w', x]]), new Set(['w']));
    const o2 = new AdamW(new Map([['w', y]]), new Set(['w']));
    for (const g of [[1, 2, 3], [-1, 0.5, 0]]) {
      tf.tidy(() => o1.update({ w: tf.tensor1d(g) }, 0.01));
      tf.tidy(() => o2.update({ w: tf.tensor1d(g) }, 0.01));
    }
    const o3 = new AdamW(new Map([['w', y]]), new Set(['w']));
    o3.setState(await o2.getState());
    tf.tidy(() => o1.update({ w: tf.tensor1d([0.3, -0.3, 1]) }, 0.01));
    tf.tidy(() => o3.update({ w: tf.tensor1d([0.3, -0.3, 1]) }, 0.01));
    assert.deepEqual(Array.from(y.dataSync()), Array.from(x.dataSync()));
    assert.throws(() => o3.setState({ step: 1, m: new Map(), v: new Map() }), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_checkpoint');
    for (const t of [o1, o2, o3, x, y]) t.dispose();
  });

  it('decay groups: block matrices and an untied head; not norms, biases or embeddings', () => {
    const names = ['wte', 'wpe', 'layers.0.ln1.w', 'layers.0.ln1.b', 'layers.0.wQKV', 'layers.0.bQKV', 'layers.0.wO', 'layers.0.bO', 'layers.0.wIn', 'layers.0.wOut', 'layers.12.wOut', 'lnF.w', 'wU', 'bU'];
    assert.deepEqual([...decayNames(names)].sort(), ['layers.0.wIn', 'layers.0.wO', 'layers.0.wOut', 'layers.0.wQKV', 'layers.12.wOut', 'wU']);
  });
});

describe('learning-rate schedule', () => {
  const s = { lr: 1, warmup: 2, minLr: 0.1, steps: 10 };
  it('linear warmup, cosine from lr to minLr over the remaining updates', () => {
    assert.equal(lrAt(0, s), 0.5);
    assert.equal(lrAt(1, s), 1);
    assert.equal(lrAt(2, s), 1);
    assert.ok(Math.abs(lrAt(9, s) - 0.1) < 1e-15);
    // p = 3.5 / 7 = 1/2 would be the midpoint; steps 5 and 6 straddle it symmetrically
    assert.ok(Math.abs(lrAt(5, s) + lrAt(6, s) - 2 * 0.55) < 1e-12);
    for (let i = 2; i < 9; i++) assert.ok(lrAt(i + 1, s) < lrAt(i, s));
    assert.equal(lrAt(0, { lr: 0.3, warmup: 0, minLr: 0.3, steps: 1 }), 0.3);
  });
  it('bad values are refused', () => {
    for (const bad of [{ ...s, lr: 0 }, { ...s, minLr: 2 }, { ...s, warmup: 11 }, { ...s, steps: 0 }, { ...s, warmup: 1.5 }]) {
      assert.throws(() => checkSchedule(bad), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_argument');
    }
  });
});

describe('clipping and loss', () => {
  it('global norm clipping as torch clip_grad_norm_', () => {
    tf.tidy(() => {
      const g = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) };
      const c = clipByGlobalNorm(g, 6.5);
      assert.ok(Math.abs(c.norm.dataSync()[0]! - 13) < 1e-5);
      const k = 6.5 / (13 + 1e-6);
      assertClose('a', c.grads['a']!.dataSync(), [3 * k, 4 * k], F32);
      assertClose('b', c.grads['b']!.dataSync(), [12 * k], F32);
      const u = clipByGlobalNorm(g, 20);
      assert.deepEqual(Array.from(u.grads['a']!.dataSync()), [3, 4], 'below the limit: unchanged');
    });
  });
  it('masked cross-entropy and its gradient (softmax - onehot) / count', () => {
    tf.tidy(() => {
      const logits = tf.tensor3d([[[0, Math.log(3)], [1, 1], [5, -5]]]); // [1, 3, 2]
      const targets = tf.tensor2d([[1, 0, 1]], [1, 3], 'int32');
      const mask = tf.tensor2d([[1, 1, 0]]);
      const loss = maskedCrossEntropy(logits, targets, mask, 2);
      assert.ok(Math.abs(loss.dataSync()[0]! - (-Math.log(0.75) + Math.log(2)) / 2) < 1e-6);
      const g = tf.grad((l: tf.Tensor) => maskedCrossEntropy(l as tf.Tensor3D, targets, mask, 2))(logits);
      assertClose('dloss/dlogits', g.dataSync(), [0.25 / 2, -0.25 / 2, -0.5 / 2, 0.5 / 2, 0, 0], F32);
    });
  });
});
