/**
 * Hooks: replacing activations (head ablation and residual patching against the PyTorch reference),
 * observing without changing, glob patterns, unknown names and wrong-shape replacements.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { LlmdbgError } from '../../src/errors.js';

before(async () => {
  await useTestBackend();
});

async function lastLogits(model: Model, ids: number[], hooks: Parameters<Model['run']>[1]['hooks']): Promise<Float32Array> {
  const r = model.run([ids], { hooks, logits: 'last' });
  const d = (await r.logits!.data()) as Float32Array;
  r.logits!.dispose();
  return d;
}

for (const name of ['gpt2-tiny', 'llama-tiny']) {
  describe(`hooks on ${name}`, () => {
    const g = golden(name);
    const p = g.patching!;
    let model: Model;
    before(() => {
      model = loadModel(fixtureDir(name));
    });

    it('zeroing hook_z of layer 0 head 1 equals the reference ablation', async () => {
      const H = model.config.nHeads;
      const mask = tf.tensor1d(Array.from({ length: H }, (_, h) => (h === 1 ? 0 : 1)));
      const got = await lastLogits(model, p.clean_ids[0]!, {
        'blocks.0.attn.hook_z': (z) => tf.mul(z, tf.reshape(mask, [1, 1, H, 1])),
      });
      mask.dispose();
      assertClose('ablated logits', got, p.ablate_L0H1_last_logits.data);
      // and it really changed something
      const clean = await lastLogits(model, p.clean_ids[0]!, {});
      assert.ok(got.some((x, i) => Math.abs(x - clean[i]!) > 1e-3), 'ablation had no effect');
    });

    it('patching clean resid_pre into the corrupted run equals the reference sweep', async () => {
      const clean = await model.runWithCache(p.clean_ids[0]!, ['blocks.*.hook_resid_pre'], { logits: 'none' });
      const [L, T, V] = p.resid_pre_patch_last_logits.shape as [number, number, number];
      for (let l = 0; l < L; l++) {
        const c = clean.cache[`blocks.${l}.hook_resid_pre`]!;
        for (let pos = 0; pos < T; pos++) {
          const got = await lastLogits(model, p.corrupt_ids[0]!, {
            [`blocks.${l}.hook_resid_pre`]: (x) => {
              const C = x.shape[2]!;
              const row = tf.tensor3d(c.data.subarray(pos * C, (pos + 1) * C), [1, 1, C]);
              const before = tf.slice(x, [0, 0, 0], [1, pos, C]);
              const after = tf.slice(x, [0, pos + 1, 0], [1, T - pos - 1, C]);
              return tf.concat([before, row, after], 1);
            },
          });
          const off = (l * T + pos) * V;
          assertClose(`patch L${l} p${pos}`, got, p.resid_pre_patch_last_logits.data.slice(off, off + V));
        }
      }
    });

    it('an observing hook sees every layer once and changes nothing', async () => {
      const seen: string[] = [];
      const got = await lastLogits(model, g.ids[0]!, { 'blocks.*.hook_resid_post': (_x, ctx) => void seen.push(ctx.name) });
      assert.deepEqual(seen, Array.from({ length: model.config.nLayers }, (_, l) => `blocks.${l}.hook_resid_post`));
      const plain = await lastLogits(model, g.ids[0]!, {});
      assert.deepEqual(Array.from(got), Array.from(plain));
    });

    it('refuses unknown hook names with suggestions, and wrong-shape replacements, without leaking', () => {
      const before = tf.memory().numTensors;
      assert.throws(() => model.run([g.ids[0]!], { cache: ['blocks.0.attn.hook_patern'] }), (e: unknown) => {
        assert.ok(e instanceof LlmdbgError);
        assert.equal(e.code, 'unknown_hook');
        assert.match(e.message, /blocks\.0\.attn\.hook_pattern/);
        return true;
      });
      assert.throws(() => model.run([g.ids[0]!], { cache: ['blocks.99.hook_resid_pre'] }), /unknown hook/);
      assert.throws(() => model.run([g.ids[0]!], { hooks: { 'blocks.0.hook_resid_pre': (x) => tf.zeros([1, 1, x.shape[2]!]) } }), (e: unknown) => {
        assert.ok(e instanceof LlmdbgError && e.code === 'hook_shape_mismatch');
        return true;
      });
      assert.equal(tf.memory().numTensors, before, 'a failed run leaked tensors');
    });
  });
}

describe('starting the forward pass at a later block', () => {
  it('startLayer with the cached resid_pre gives the same logits as the full pass', async () => {
    const g = golden('llama-tiny');
    const model = loadModel(fixtureDir('llama-tiny'));
    const ids = g.ids[0]!;
    const full = await lastLogits(model, ids, {});
    const before = tf.memory().numTensors;
    for (let l = 1; l < model.config.nLayers; l++) {
      const got = tf.tidy(() => {
        const resid = model.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, { cache: [`blocks.${l}.hook_resid_pre`], logits: 'none' }).cache[`blocks.${l}.hook_resid_pre`] as tf.Tensor3D;
        return model.forward({ startLayer: l, resid }, { logits: 'last' }).logits!;
      });
      assertClose(`start at ${l}`, await got.data(), full, { atol: 1e-5, rtol: 1e-5 });
      got.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });
});

describe('backend limits', () => {
  it('refuses models whose float32 weights cannot fit the WASM heap, naming the size and the way out', async () => {
    const { checkFitsBackend } = await import('../../src/model/model.js');
    assert.doesNotThrow(() => checkFitsBackend(3.1e9, 'wasm', 'gpt2-large'));
    assert.doesNotThrow(() => checkFitsBackend(6.23e9, 'native', 'gpt2-xl'));
    assert.throws(() => checkFitsBackend(6.23e9, 'wasm', 'gpt2-xl'), (e: unknown) => e instanceof LlmdbgError && e.code === 'model_too_large' && /6\.23 GB/.test(e.message) && /native/.test(e.hint ?? ''));
  });
});
