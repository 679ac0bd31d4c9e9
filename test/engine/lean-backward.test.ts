/**
 * The lean backward (src/engine/lean-backward.ts): the saliency gradient of the fixture models
 * matches PyTorch's (golden.json grad_embed) and is bit-identical to tfjs-core's stock backward,
 * while the peak of live tensor bytes is lower; closed-form gradients through the cases where
 * freeing early could go wrong (one gradient object feeding two inputs, a multi-output kernel
 * with an unused output, a caller's dy, higher-order gradients); nothing leaks.
 * Non-goals: the gradient functions themselves (test/train/gradients.test.ts).
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients } from '../../src/engine/gradients.js';
import { setLeanBackward } from '../../src/engine/lean-backward.js';
import { loadModel } from '../../src/model/model.js';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';

/** d log p(target | ids) / d token embeddings ([T, C] flat) and the profile's peak bytes. */
async function saliency(name: string, lean: boolean): Promise<{ grad: Float32Array; peakBytes: number }> {
  const g = golden(name);
  const model = loadModel(fixtureDir(name));
  const prev = setLeanBackward(lean);
  try {
    const ids = g.ids[0]!;
    let grad: Float32Array = new Float32Array(0);
    const prof = await tf.profile(() => {
      const t = tf.tidy(() => {
        const e = tf.gather(model.params.wte, tf.tensor2d(ids, [1, ids.length], 'int32')) as unknown as tf.Tensor3D; // [1, T, C]
        return tf.grad((x: tf.Tensor) => {
          const l = model.forward({ embeds: x as tf.Tensor3D }, { logits: 'last' }).logits!; // [1, 1, V]
          return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, g.saliency.target_id], [1, 1]), []);
        })(e);
      });
      grad = t.dataSync() as Float32Array;
      t.dispose();
    });
    return { grad: grad.slice(), peakBytes: prof.peakBytes };
  } finally {
    setLeanBackward(prev);
    model.dispose();
  }
}

describe('lean backward', () => {
  before(async () => {
    await useTestBackend();
    registerGradients(); // installs the lean backward
  });
  after(() => setLeanBackward(true));

  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`${name}: saliency gradient matches PyTorch, bit-identical to the stock backward, lower peak`, async () => {
      const n0 = tf.memory().numTensors;
      const lean = await saliency(name, true);
      const stock = await saliency(name, false);
      assertClose(`${name} grad_embed`, lean.grad, golden(name).saliency.grad_embed.data, { atol: 1e-4, rtol: 1e-4 });
      assert.deepEqual(lean.grad, stock.grad);
      assert.ok(lean.peakBytes < stock.peakBytes, `peak ${lean.peakBytes} B (lean) vs ${stock.peakBytes} B (stock)`);
      assert.equal(tf.memory().numTensors, n0);
    });
  }

  it('one gradient object for two inputs, an unused split output, a caller dy: closed forms, no leak', () => {
    const n0 = tf.memory().numTensors;
    // f(a, b) = a + b whose gradient hands the *same* dy object to both inputs
    const addSame = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [a, b] = args as [tf.Tensor, tf.Tensor];
      return { value: tf.add(a, b), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor, dy as tf.Tensor] };
    }) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
    const x = tf.tensor1d([1, -2, 3, 0.5]);
    const w = tf.tensor1d([2, 3]);
    const dy = tf.scalar(1.5);
    // L = sum(w * tanh-free pieces): first half of split(addSame(2x, 3x)) weighted by w; second half unused
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => {
      const [first] = tf.split(addSame(tf.mul(t, 2), tf.mul(tf.square(t), 3)), 2);
      return tf.sum(tf.mul(first!, w));
    })(x, dy);
    // dL/dx_i = dy * w_i * (2 + 6 x_i) for i < 2, 0 otherwise
    const xs = [1, -2, 3, 0.5], ws = [2, 3];
    const expected = xs.map((v, i) => (i < 2 ? 1.5 * ws[i]! * (2 + 6 * v) : 0));
    assert.deepEqual(Array.from(grad.dataSync()), expected);
    assert.equal(value.dataSync()[0], 2 * (2 * 1 + 3 * 1) + 3 * (2 * -2 + 3 * 4));
    assert.equal(dy.isDisposed, false, "the caller's dy is not disposed");
    assert.equal(dy.dataSync()[0], 1.5);
    tf.dispose([value, grad, x, w, dy]);
    assert.equal(tf.memory().numTensors, n0);
  });

  it('gradients of several xs and second derivatives (the stock path inside a recording tape)', () => {
    const n0 = tf.memory().numTensors;
    const a = tf.tensor1d([1, 2]), b = tf.tensor1d([5, -6]);
    // f = sum(3 a^2 + a b): df/da = 6a + b, df/db = a
    const [ga, gb] = tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.add(tf.mul(tf.mul(u, u), 3), tf.mul(u, v))))([a, b]);
    assert.deepEqual(Array.from(ga!.dataSync()), [11, 6]);
    assert.deepEqual(Array.from(gb!.dataSync()), [1, 2]);
    // d2/dx2 x^3 = 6x: the inner tf.grad runs while the outer tape records
    const x = tf.tensor1d([0.5, -1, 2]);
    const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.mul(u, u), u)))(t)))(x);
    assert.deepEqual(Array.from(g2.dataSync()), [3, -6, 12]);
    tf.dispose([a, b, ga!, gb!, x, g2]);
    assert.equal(tf.memory().numTensors, n0);
  });
});
