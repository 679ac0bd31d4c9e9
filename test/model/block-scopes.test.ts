/**
 * Per-block scopes of the forward pass (src/model/forward.ts `blockScopes`, set by runForward when a
 * run has no hooks and no cache): the same logits and KV cache bit for bit as a run that keeps
 * every intermediate (a no-op hook turns the scopes off), and a block's intermediates are freed
 * before the caller's tidy ends; prefill + one cached step and a gradient through it still agree.
 * Non-goals: reference values (test/model/parity.test.ts checks logits, hooks and greedy ids
 * against PyTorch with the same code path).
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients } from '../../src/engine/gradients.js';
import { loadModel, type Model } from '../../src/model/model.js';
import type { KVCache } from '../../src/model/forward.js';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';

interface Run {
  logits: Float32Array;
  kv: Float32Array[];
  /** Tensor bytes alive when the forward returns, above those before it. */
  liveBytes: number;
}

/** Prefill of `ids` then one cached step with `next`; `observe` adds a no-op hook on every residual. */
function run(model: Model, ids: number[], next: number, observe: boolean): Run {
  const hooks = observe ? { 'blocks.*.hook_resid_post': () => undefined } : undefined;
  const b0 = tf.memory().numBytes;
  let liveBytes = 0;
  const out = tf.tidy(() => {
    const first = model.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, { logits: 'last', ...(hooks ? { hooks } : {}) });
    liveBytes = tf.memory().numBytes - b0;
    const past: KVCache = first.kv;
    const second = model.forward({ ids: tf.tensor2d([next], [1, 1], 'int32'), past }, { logits: 'last', ...(hooks ? { hooks } : {}) });
    return [first.logits!, second.logits!, ...second.kv.layers.flatMap((l) => [l.k, l.v])];
  });
  const data = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return { logits: Float32Array.from([...data[0]!, ...data[1]!]), kv: data.slice(2), liveBytes };
}

describe('forward block scopes', () => {
  before(async () => {
    await useTestBackend();
    registerGradients();
  });

  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`${name}: identical logits and KV with and without scopes; intermediates freed early; no leak`, () => {
      const model = loadModel(fixtureDir(name));
      try {
        const ids = golden(name).ids[0]!;
        const n0 = tf.memory().numTensors;
        const scoped = run(model, ids, ids[0]!, false);
        const kept = run(model, ids, ids[0]!, true);
        assert.deepEqual(scoped.logits, kept.logits);
        assert.equal(scoped.kv.length, 2 * model.config.nLayers);
        scoped.kv.forEach((k, i) => assert.deepEqual(k, kept.kv[i], `kv tensor ${i}`));
        assert.ok(scoped.liveBytes < kept.liveBytes / 2, `live after the prefill: ${scoped.liveBytes} B scoped vs ${kept.liveBytes} B`);
        assert.equal(tf.memory().numTensors, n0);
      } finally {
        model.dispose();
      }
    });
  }

  it('gpt2-tiny: the gradient through scoped blocks equals the one through a hooked (unscoped) run', () => {
    const name = 'gpt2-tiny';
    const model = loadModel(fixtureDir(name));
    try {
      const ids = golden(name).ids[0]!;
      const grad = (observe: boolean) => {
        const hooks = observe ? { 'blocks.*.hook_resid_post': () => undefined } : undefined;
        const t = tf.tidy(() => {
          const e = tf.gather(model.params.wte, tf.tensor2d(ids, [1, ids.length], 'int32')) as unknown as tf.Tensor3D; // [1, T, C]
          return tf.grad((x: tf.Tensor) => tf.sum(model.forward({ embeds: x as tf.Tensor3D }, { logits: 'last', ...(hooks ? { hooks } : {}) }).logits!))(e);
        });
        const d = t.dataSync().slice();
        t.dispose();
        return d;
      };
      assert.deepEqual(grad(false), grad(true));
    } finally {
      model.dispose();
    }
  });
});
