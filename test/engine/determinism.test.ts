/**
 * Determinism on the active test backend (RELIABILITY.md §3.3; issue 3 item 4): the same inputs with
 * the same thread count give the same bytes: batched logits (also after reloading the model), the
 * embedding gradient of a log-probability, and a short sampled generation, on two fixture models and
 * a wider random Llama whose products are big enough for the native pool to split them. On the
 * native backend also across thread counts (1 vs the default), which its README promises.
 * Non-goals: equality across backends (parity.test.ts holds each to the PyTorch reference).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { testBackendChoice, useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';
import { initParams, newModelConfig } from '../../src/model/init.js';
import { Rng } from '../../src/engine/rng.js';
import type { BackendInfo } from '../../src/engine/backend.js';

let backend: BackendInfo;
before(async () => {
  backend = await useTestBackend();
});

/** The float32 bytes of the batched logits [B, T, V]. */
function batchLogitBytes(model: Model, batch: number[][]): Buffer {
  const r = model.run(batch);
  const data = r.logits!.dataSync() as Float32Array;
  r.logits!.dispose();
  return Buffer.from(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** d log p(last id | prefix) / d token embeddings [1, T, C], as bytes. */
function gradBytes(model: Model, ids: number[]): Buffer {
  const T = ids.length - 1;
  const g = tf.tidy(() => {
    const embeds = tf.gather(model.params.wte, tf.tensor2d(ids.slice(0, T), [1, T], 'int32')) as unknown as tf.Tensor3D; // [1, T, C]
    return tf.grad((e: tf.Tensor) => {
      const l = model.forward({ embeds: e as tf.Tensor3D }, { logits: 'last' }).logits!; // [1, 1, V]
      return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, ids[T]!], [1, 1]), []);
    })(embeds);
  });
  const data = g.dataSync() as Float32Array;
  g.dispose();
  return Buffer.from(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** Ids and the float64 log-probabilities of a sampled continuation (they depend on every logit). */
async function sampled(model: Model, prompt: number[]): Promise<{ ids: number[]; logprobs: number[] }> {
  const r = await generate(model, prompt, { maxNewTokens: 8, temperature: 0.9, topP: 0.95, seed: 11, stopAtEos: false });
  return { ids: r.ids, logprobs: r.steps.map((s) => s.logprob) };
}

interface Snapshot {
  logits: Buffer;
  grad: Buffer;
  gen: { ids: number[]; logprobs: number[] };
}

interface Inputs {
  batch: number[][];
  ids: number[];
  prompt: number[];
}

async function snapshot(model: Model, x: Inputs): Promise<Snapshot> {
  return { logits: batchLogitBytes(model, x.batch), grad: gradBytes(model, x.ids), gen: await sampled(model, x.prompt) };
}

/** A Llama with d_model 256, MLP 688, vocabulary 1000: [128, 256] x [256, 1000] products and up. */
const WIDE = newModelConfig({ arch: 'llama', dModel: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 1000, nCtx: 128 });

const CASES: { name: string; load: () => Model; inputs: () => Inputs }[] = [
  ...['gpt2-tiny', 'llama-tiny'].map((name) => ({
    name,
    load: () => loadModel(fixtureDir(name)),
    inputs: () => ({ batch: golden(name).batch_ids, ids: golden(name).ids[0]!, prompt: golden(name).greedy.prompt }),
  })),
  {
    name: 'random llama (d_model 256)',
    load: () => new Model(WIDE, initParams(WIDE, 5), null, { dir: '(memory)', weightsDtype: 'F32', fingerprint: 'init seed 5' }),
    inputs: () => {
      const rng = new Rng(9);
      const row = () => Array.from({ length: 64 }, () => rng.int(WIDE.vocabSize));
      return { batch: [row(), row()], ids: row(), prompt: row().slice(0, 16) };
    },
  },
];

function assertSameBytes(a: Snapshot, b: Snapshot, what: string): void {
  assert.ok(a.logits.length > 0 && a.grad.length > 0);
  assert.ok(a.logits.equals(b.logits), `${what}: batched logits differ in their bytes`);
  assert.ok(a.grad.equals(b.grad), `${what}: embedding gradients differ in their bytes`);
  assert.deepEqual(a.gen, b.gen, `${what}: sampled generation differs`);
}

for (const c of CASES) {
  describe(`determinism: ${c.name}`, () => {
    let model: Model;
    let x: Inputs;
    before(() => {
      model = c.load();
      x = c.inputs();
    });
    after(() => model?.dispose());

    it('the same inputs give the same bytes (logits, gradient, sampled generation), also after reloading', async () => {
      const tensors = tf.memory().numTensors;
      const a = await snapshot(model, x);
      assertSameBytes(a, await snapshot(model, x), `${backend.name}, run twice`);
      const fresh = c.load();
      try {
        assertSameBytes(a, await snapshot(fresh, x), `${backend.name}, reloaded model`);
      } finally {
        fresh.dispose();
      }
      assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
      // The check is not vacuous: a different first token changes the bytes.
      const other = x.batch.map((row) => row.map((id, i) => (i === 0 ? (id + 1) % model.config.vocabSize : id)));
      assert.ok(!batchLogitBytes(model, other).equals(a.logits), 'a different first token must change the logits');
    });

    it('native: 1 thread gives the same bytes as the default thread count', { skip: testBackendChoice() !== 'native' && 'native backend only' }, async () => {
      const native = await import('../../src/engine/native/index.js');
      const threads = backend.threads;
      const a = await snapshot(model, x);
      assert.equal(native.tryRegisterNativeBackend({ threads: 1 }).ok, true);
      try {
        assertSameBytes(a, await snapshot(model, x), `native, ${threads} vs 1 thread`);
      } finally {
        native.tryRegisterNativeBackend({ threads });
      }
    });
  });
}
