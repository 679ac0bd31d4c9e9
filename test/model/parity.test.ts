/**
 * Forward parity against the independent PyTorch reference (tools/make_fixtures.py): logits,
 * every hook point, batches and greedy continuations, for every fixture architecture and layout
 * (GPT-2 with and without the `transformer.` prefix, Llama with GQA, tied head and head_dim,
 * Mistral, Qwen2 biases, BF16/F16 weights, sharded checkpoints).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, fixtureNames, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';

before(async () => {
  await useTestBackend();
});

for (const name of fixtureNames()) {
  describe(`parity: ${name}`, () => {
    const g = golden(name);
    let model: Model;
    before(() => {
      model = loadModel(fixtureDir(name));
    });

    it('logits match the reference', async () => {
      const l = await model.logits(g.ids[0]!);
      assert.deepEqual([1, ...l.shape], g.logits.shape);
      assertClose('logits', l.data, g.logits.data);
    });

    it('every hook point matches the reference, in execution order', async () => {
      const names = Object.keys(g.hooks);
      assert.deepEqual(model.hooks.map((h) => h.name), names, 'hook inventory and order');
      const r = await model.runWithCache(g.ids[0]!, names, { logits: 'none' });
      for (const n of names) {
        assert.deepEqual(r.cache[n]!.shape, g.hooks[n]!.shape, `${n} shape`);
        assertClose(n, r.cache[n]!.data, g.hooks[n]!.data);
      }
    });

    it('batched rows match the batched reference', async () => {
      const r = model.run(g.batch_ids);
      try {
        assert.deepEqual(r.logits!.shape, g.batch_logits.shape);
        assertClose('batch logits', await r.logits!.data(), g.batch_logits.data);
      } finally {
        r.logits!.dispose();
      }
    });

    it('greedy generation with the KV cache reproduces the reference ids', async () => {
      const res = await generate(model, g.greedy.prompt, { maxNewTokens: g.greedy.new_tokens, stopAtEos: false });
      assert.deepEqual(res.ids, g.greedy.ids);
    });
  });
}
