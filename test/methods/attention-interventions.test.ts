/**
 * Intervention specs against the PyTorch reference (tools/make_patching_fixtures.py and the
 * golden ablation of tools/make_fixtures.py): zero and mean head ablation, pattern edits with
 * renormalisation, score masking; spec validation messages; clean-vs-edited comparison,
 * including that edited generation with the KV cache equals full recomputation.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden, ROOT } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { LlmdbgError } from '../../src/errors.js';
import { headAblationSpec, validateSpec, type InterventionSpec } from '../../src/methods/interventions/spec.js';
import { compileIntervention } from '../../src/methods/interventions/apply.js';
import { compareIntervention, lastLogits } from '../../src/methods/interventions/compare.js';

type T = { shape: number[]; data: number[] };
const fx = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'patching', `${name}.json`), 'utf8'));
const TOL = { atol: 2e-4, rtol: 2e-4 };

before(async () => {
  await useTestBackend();
});

async function edited(model: Model, ids: number[], raw: unknown): Promise<Float32Array> {
  const iv = await compileIntervention(model, validateSpec(raw, model.config), ids.length);
  try {
    return await lastLogits(model, ids, iv.hooks);
  } finally {
    iv.dispose();
  }
}

for (const name of ['gpt2-tiny', 'llama-tiny']) {
  describe(`interventions: ${name}`, () => {
    const g = golden(name);
    const f = fx(name);
    const ids: number[] = f.clean_ids[0];
    let model: Model;
    before(() => {
      model = loadModel(fixtureDir(name));
    });

    it('zero-ablating L0H1 (hook_z) matches the reference', async () => {
      const n0 = tf.memory().numTensors;
      const l = await edited(model, ids, headAblationSpec([{ layer: 0, head: 1 }]));
      assertClose('ablate L0H1', l, g.patching!.ablate_L0H1_last_logits.data, TOL);
      assert.equal(tf.memory().numTensors, n0, 'no leaked tensors');
    });

    it('mean-ablating L0H1 over reference prompts matches the reference', async () => {
      const m = f.mean_ablation;
      const l = await edited(model, ids, headAblationSpec([{ layer: 0, head: 1 }], 'mean', { ids: m.reference_ids }));
      assertClose('mean ablation', l, m.last_logits.data, TOL);
      // and it differs from zero ablation, so the mean really was used
      assert.ok(Math.abs(l[0]! - g.patching!.ablate_L0H1_last_logits.data[0]!) > 1e-4);
    });

    it('pattern scale with renormalisation matches, rows sum to 1', async () => {
      const spec = { edits: [{ hook: 'pattern', layers: [1], heads: [0], keys: [1], op: 'scale', value: 3, renormalize: true }] };
      assertClose('scale+renorm', await edited(model, ids, spec), f.pattern_edits.scale_renorm_last_logits.data, TOL);
      const iv = await compileIntervention(model, validateSpec(spec, model.config), ids.length);
      const r = await model.runWithCache(ids, ['blocks.1.attn.hook_pattern'], { hooks: iv.hooks, logits: 'none' });
      iv.dispose();
      const pat = r.cache['blocks.1.attn.hook_pattern']!;
      const Tn = ids.length;
      const head0 = pat.data.subarray(0, Tn * Tn);
      assertClose('edited pattern', head0, (f.pattern_edits.scale_renorm_pattern as T).data, TOL);
      for (let q = 0; q < Tn; q++) assert.ok(Math.abs(head0.subarray(q * Tn, (q + 1) * Tn).reduce((a, b) => a + b, 0) - 1) < 1e-5);
    });

    it('zeroing a key with renormalisation, masking scores and setting a row match the reference', async () => {
      const zero = { edits: [{ hook: 'pattern', layers: [0], heads: [0, 2], positions: Array.from({ length: ids.length - 1 }, (_, i) => i + 1), keys: [0], op: 'zero', renormalize: true }] };
      assertClose('zero+renorm', await edited(model, ids, zero), f.pattern_edits.zero_renorm_last_logits.data, TOL);
      const mask = { edits: [{ hook: 'scores', layers: [0], heads: [3], positions: [-1], keys: [0, 2], op: 'mask' }] };
      assertClose('mask scores', await edited(model, ids, mask), f.pattern_edits.mask_scores_last_logits.data, TOL);
      const set = { edits: [{ hook: 'pattern', layers: [0], positions: [5], op: 'set', value: 0 }, { hook: 'pattern', layers: [0], positions: [5], keys: [2], op: 'set', value: 1 }] };
      assertClose('set row', await edited(model, ids, set), f.pattern_edits.set_pattern_last_logits.data, TOL);
    });

    it('an identity edit changes nothing; ablation changes the output; edited generation equals recomputation', async () => {
      const n0 = tf.memory().numTensors;
      const same = await compileIntervention(model, validateSpec({ edits: [{ hook: 'resid_post', op: 'scale', value: 1 }] }, model.config), ids.length);
      const c0 = await compareIntervention(model, ids, same, { maxNewTokens: 4 });
      same.dispose();
      assert.equal(c0.kl, 0);
      assert.equal(c0.maxAbsLogitChange, 0);
      assert.deepEqual(c0.edited.continuation, c0.clean.continuation);

      const spec = headAblationSpec([{ layer: 0, head: 0 }, { layer: 0, head: 1 }, { layer: 1, head: 2 }]);
      const iv = await compileIntervention(model, validateSpec(spec, model.config), ids.length);
      const c = await compareIntervention(model, ids, iv, { maxNewTokens: 5, foil: 3 });
      assert.ok(c.kl > 1e-4, `KL ${c.kl}`);
      assert.ok(Math.abs(c.target.logitDelta) > 1e-4);
      assert.equal(c.target.id, c.clean.top[0]!.id);
      assert.ok(Math.abs(c.foil!.editedLogitDiff - (c.target.editedLogit - (await lastLogits(model, ids, iv.hooks))[3]!)) < 1e-4);
      // each generated token is the argmax of a full (no KV cache) edited run over the prefix
      const seq = [...ids];
      for (const tok of c.edited.continuation) {
        const l = await lastLogits(model, seq, iv.hooks);
        let best = 0;
        for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
        assert.equal(tok, best);
        seq.push(tok);
      }
      iv.dispose();
      assert.equal(tf.memory().numTensors, n0, 'no leaked tensors');
    });
  });
}

describe('intervention spec validation', () => {
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('gpt2-tiny'));
  });
  const msg = (raw: unknown): string => {
    try {
      validateSpec(raw, model.config);
    } catch (e) {
      assert.ok(e instanceof LlmdbgError);
      assert.equal(e.code, 'invalid_spec');
      return e.message;
    }
    assert.fail('expected a validation error');
  };
  it('names the field and the value', () => {
    assert.equal(msg({ edits: [{ hook: 'z', op: 'zero' }, { hook: 'z', op: 'zero' }, { hook: 'z', heads: [14], op: 'zero' }] }), 'spec.edits[2].heads[0] = 14 is outside [0, 4)');
    assert.equal(msg({ edits: [{ hook: 'z', layers: [2], op: 'zero' }] }), 'spec.edits[0].layers[0] = 2 is outside [0, 2)');
    assert.match(msg({ edits: [{ hook: 'attn', op: 'zero' }] }), /spec\.edits\[0\]\.hook = "attn" is not an editable hook/);
    assert.match(msg({ edits: [{ hook: 'z', op: 'wipe' }] }), /spec\.edits\[0\]\.op = "wipe" is not an operation/);
    assert.match(msg({ edits: [{ hook: 'z', op: 'scale' }] }), /spec\.edits\[0\]\.value is required/);
    assert.match(msg({ edits: [{ hook: 'z', op: 'add', value: [1, 2] }] }), /has 2 numbers but the last axis of "z" has 8/);
    assert.match(msg({ edits: [{ hook: 'mlp_out', op: 'zero', renormalize: true }] }), /renormalize is only valid for hook "pattern"/);
    assert.match(msg({ edits: [{ hook: 'z', op: 'mean' }] }), /reference is required/);
    assert.match(msg({ edits: [{ hook: 'mlp_out', heads: [0], op: 'zero' }] }), /heads is only valid for attention hooks/);
    assert.match(msg({ edits: [] }), /spec\.edits = \[\] must be a non-empty array/);
    assert.match(msg({ edit: [] }), /spec\.edit is not a field/);
  });
  it('accepts a complete spec and resolves negative positions against the prompt', async () => {
    const s: InterventionSpec = validateSpec({ name: 'x', edits: [{ hook: 'pattern', layers: [0], heads: [1], positions: [-1], keys: [0], op: 'scale', value: 0.5, renormalize: true }] }, model.config);
    assert.equal(s.edits[0]!.op, 'scale');
    await assert.rejects(compileIntervention(model, validateSpec({ edits: [{ hook: 'z', positions: [-9], op: 'zero' }] }, model.config), 8), /points before the start of the 8-token prompt/);
  });
});
