/**
 * Logit lens and direct logit attribution against the PyTorch reference
 * (tools/make_patching_fixtures.py), plus closed forms: the lens at the last stage equals the
 * model's logits, and the attribution parts sum to the logit (or logit difference).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, fixtureNames, ROOT } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { logitLens } from '../../src/methods/lens/logit-lens.js';
import { directLogitAttribution } from '../../src/methods/lens/dla.js';

const fx = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'patching', `${name}.json`), 'utf8'));
const TOL = { atol: 2e-4, rtol: 2e-4 };

before(async () => {
  await useTestBackend();
});

for (const name of ['gpt2-tiny', 'llama-tiny']) {
  describe(`lens: ${name}`, () => {
    const f = fx(name);
    const ids: number[] = f.clean_ids[0];
    let model: Model;
    before(() => {
      model = loadModel(fixtureDir(name));
    });

    it('logit lens matches the reference at every layer; the last stage is the model output', async () => {
      const n0 = tf.memory().numTensors;
      const r = await logitLens(model, ids, { keepLogits: true, topK: 3 });
      assert.equal(r.stages.length, model.config.nLayers + 1);
      assertClose('lens logits', r.logits!.flatMap((s) => s.flatMap((row) => [...row])), f.logit_lens.data, TOL);
      const out = await model.logits(ids);
      const last = r.logits![r.stages.length - 1]!;
      assertClose('last stage == logits', last.flatMap((row) => [...row]), out.data, { atol: 1e-5, rtol: 1e-5 });
      // the target defaults to the final top-1 at the last position: rank 1 at the last stage
      const T = ids.length;
      assert.equal(r.target.rank[r.stages.length - 1]![T - 1], 1);
      assert.equal(r.top[r.stages.length - 1]![T - 1]![0]!.id, r.target.id);
      for (const s of r.top) for (const row of s) assert.ok(row[0]!.prob >= row[1]!.prob && row[1]!.prob >= row[2]!.prob);
      assert.equal(tf.memory().numTensors, n0, 'no leaked tensors');
    });

    it('direct logit attribution matches the reference and sums to the logit', async () => {
      const d = await directLogitAttribution(model, ids);
      const g = f.dla;
      assert.equal(d.target.id, g.target);
      assertClose('heads', d.heads.flat(), g.heads.data, TOL);
      assertClose('mlps', d.mlps, g.mlps.data, TOL);
      assertClose('attn bias', d.attnBias, g.attn_bias.data, TOL);
      assertClose('embed', [d.embed, d.posEmbed, d.constant], [g.embed, g.pos_embed, g.norm_bias], TOL);
      assert.ok(Math.abs(d.sum - d.logit) < 1e-3, `sum ${d.sum} vs logit ${d.logit}`);
      assert.ok(Math.abs(d.logit - g.logit) < 2e-4);
    });

    it('with a foil, the parts sum to the logit difference', async () => {
      const d = await directLogitAttribution(model, ids, { target: 5, foil: 9, position: 2 });
      const l = await model.logits(ids);
      const V = model.config.vocabSize;
      assert.ok(Math.abs(d.logit - (l.data[2 * V + 5]! - l.data[2 * V + 9]!)) < 1e-5);
      assert.ok(Math.abs(d.sum - d.logit) < 1e-3, `sum ${d.sum} vs ${d.logit}`);
    });
  });
}

describe('lens on every fixture architecture', () => {
  it('the last stage equals the logits and DLA sums to the logit', async () => {
    for (const name of fixtureNames()) {
      const model = loadModel(fixtureDir(name));
      const ids = [1, 2, 3, 4, 5].map((i) => i % model.config.vocabSize);
      const r = await logitLens(model, ids, { keepLogits: true, topK: 1 });
      const out = await model.logits(ids);
      assertClose(`${name} last stage`, r.logits![r.stages.length - 1]!.flatMap((row) => [...row]), out.data, { atol: 1e-5, rtol: 1e-5 });
      const d = await directLogitAttribution(model, ids);
      assert.ok(Math.abs(d.sum - d.logit) < 1e-3 * Math.max(1, Math.abs(d.logit)), `${name}: sum ${d.sum} vs ${d.logit}`);
      model.dispose();
    }
  });
});
