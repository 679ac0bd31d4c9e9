/**
 * `outputsFrom` (src/model/forward.ts): the last block, ln_final and the logits computed only from a
 * position on. Against a full run of the same model: the same keys and values bit for bit (their
 * path is unchanged), logits equal to the full run's late rows at float32 tolerance, a cached next
 * step that continues identically, gradients with respect to the input equal to the full run's,
 * and hook functions refused. Attribution uses it (objective.ts), so its PyTorch parity tests
 * cover it too. Non-goals: speed (bench/runtime.ts, IG and saliency).
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients } from '../../src/engine/gradients.js';
import { loadModel } from '../../src/model/model.js';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';

function worstRel(got: Float32Array, want: Float32Array): number {
  assert.equal(got.length, want.length);
  let w = 0;
  for (let i = 0; i < got.length; i++) w = Math.max(w, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  return w;
}

describe('forward outputsFrom', () => {
  before(async () => {
    await useTestBackend();
    registerGradients();
  });

  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`${name}: late logits and gradients as a full run's, keys and values identical`, () => {
      const model = loadModel(fixtureDir(name));
      try {
        const ids = golden(name).ids[0]!;
        const T = ids.length;
        const V = model.config.vocabSize;
        for (const from of [1, Math.floor(T / 2), T - 1]) {
          const [fullLogits, partLogits, fullKv, partKv] = tf.tidy(() => {
            const x = tf.tensor2d(ids, [1, T], 'int32');
            const full = model.forward({ ids: x }, { logits: 'all' });
            const part = model.forward({ ids: x, outputsFrom: from }, { logits: 'all' });
            assert.deepEqual(part.logits!.shape, [1, T - from, V]);
            const kvOf = (o: typeof full) => tf.concat(o.kv.layers.flatMap((l) => [tf.reshape(l.k, [-1]), tf.reshape(l.v, [-1])]));
            return [tf.slice(full.logits!, [0, from, 0], [1, T - from, V]), part.logits!, kvOf(full), kvOf(part)];
          }).map((t) => {
            const d = t.dataSync() as Float32Array;
            t.dispose();
            return d;
          });
          assert.ok(worstRel(partLogits!, fullLogits!) < 1e-5, `${name} from ${from}: logits differ by ${worstRel(partLogits!, fullLogits!)}`);
          assert.deepEqual(Buffer.from(partKv!.buffer, partKv!.byteOffset, partKv!.byteLength), Buffer.from(fullKv!.buffer, fullKv!.byteOffset, fullKv!.byteLength), `${name} from ${from}: keys and values must be the full run's`);
        }
        // d (sum of the last position's log-probabilities weighted by r) / d embeddings
        const r = tf.randomUniform([V], -1, 1, 'float32', 3);
        const grad = (from: number | undefined) => tf.tidy(() => {
          const emb = tf.gather(model.params.wte, tf.tensor2d(ids, [1, T], 'int32')) as unknown as tf.Tensor3D;
          const f = (e: tf.Tensor) => {
            const o = model.forward({ embeds: e as tf.Tensor3D, ...(from !== undefined ? { outputsFrom: from } : {}) }, { logits: 'last' });
            return tf.sum(tf.mul(tf.logSoftmax(tf.reshape(o.logits!, [V])), r));
          };
          return tf.grad(f)(emb).dataSync() as Float32Array;
        });
        assert.ok(worstRel(grad(T - 1), grad(undefined)) < 1e-5, `${name}: input gradients differ`);
        r.dispose();
        assert.throws(() => model.forward({ ids: tf.tensor2d(ids, [1, T], 'int32'), outputsFrom: 1 }, { hooks: { 'blocks.0.hook_resid_post': () => undefined } }), /outputsFrom cannot be combined with hook functions/);
      } finally {
        model.dispose();
      }
    });
  }
});
