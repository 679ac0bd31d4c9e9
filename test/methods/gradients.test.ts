/**
 * Gradient analysis: gradient norms at every hook point and for every parameter tensor against the
 * PyTorch reference (test/fixtures/attribution, zero-probe gradients of the prompt's cross-entropy),
 * a finite-difference check of the target objective, and flags on deliberately broken models
 * (a dead layer, an exploding final norm, a NaN embedding).
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { ROOT, fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel } from '../../src/model/model.js';
import { LlmdbgError } from '../../src/errors.js';
import { gradientReport } from '../../src/methods/gradients/report.js';
import { flagAll } from '../../src/methods/gradients/flags.js';

interface GradRef {
  ids: number[];
  gradients: { loss: number; hooks: Record<string, { grad_norm: number; act_norm: number; grad_x_act: number }>; params: Record<string, number> };
}

before(async () => {
  await useTestBackend();
});

const TOL = { atol: 1e-5, rtol: 5e-4 };

for (const name of ['gpt2-tiny', 'llama-tiny', 'qwen2-tiny']) {
  it(`${name}: hook and parameter gradient norms match the reference`, async () => {
    const ref = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'attribution', `${name}.json`), 'utf8')) as GradRef;
    const model = loadModel(fixtureDir(name));
    const n0 = tf.memory().numTensors;
    try {
      const r = await gradientReport(model, { ids: ref.ids });
      assert.equal(tf.memory().numTensors, n0, 'no tensors left behind');
      assertClose('loss', [r.objective.value], [ref.gradients.loss], TOL);
      const names = Object.keys(ref.gradients.hooks);
      assert.deepEqual(r.hooks.map((h) => h.name), names, 'every hook point, in order');
      const pick = (k: 'grad_norm' | 'act_norm' | 'grad_x_act') => names.map((n) => ref.gradients.hooks[n]![k]);
      assertClose('hook grad norms', r.hooks.map((h) => h.gradNorm), pick('grad_norm'), TOL);
      assertClose('hook act norms', r.hooks.map((h) => h.actNorm), pick('act_norm'), TOL);
      assertClose('hook grad x act', r.hooks.map((h) => h.gradXAct), pick('grad_x_act'), { atol: 1e-4, rtol: 1e-3 });
      assert.deepEqual(r.params.map((p) => p.name), Object.keys(ref.gradients.params), 'every parameter tensor');
      assertClose('param grad norms', r.params.map((p) => p.gradNorm), Object.values(ref.gradients.params), TOL);
      assertClose('global norm', [r.globalNorm!], [Math.hypot(...Object.values(ref.gradients.params))], TOL);
      assert.deepEqual(r.flagged, [], 'a healthy model has no flags');
      assert.equal(r.layers.length, model.config.nLayers);
      assert.equal(r.layers[0]!.residGradNorm, r.hooks.find((h) => h.name === 'blocks.0.hook_resid_pre')!.gradNorm);
    } finally {
      model.dispose();
    }
  });
}

describe('gradient report on gpt2-tiny', () => {
  const ids = golden('gpt2-tiny').ids[0]!;

  it('target objective: value and gradient x activation at every residual hook match finite differences', async () => {
    const model = loadModel(fixtureDir('gpt2-tiny'));
    try {
      const target = ids[2]!;
      const names = ['hook_embed', 'blocks.0.hook_resid_mid', 'blocks.1.hook_mlp_out'];
      const r = await gradientReport(model, { ids, objective: { kind: 'target', target }, hooks: names, params: false });
      assert.equal(r.params.length, 0);
      assert.deepEqual(r.hooks.map((h) => h.name), names);
      // log p(target) with one activation scaled by s (through a hook): d/ds at s = 1 is sum(grad * act)
      const lp = async (hook: string | null, s: number) => {
        const out = model.run([ids], { logits: 'last', ...(hook ? { hooks: { [hook]: (x: tf.Tensor) => tf.mul(x, s) } } : {}) });
        const row = (await out.logits!.data()) as Float32Array;
        out.logits!.dispose();
        const m = Math.max(...row);
        return row[target]! - m - Math.log(row.reduce((acc, v) => acc + Math.exp(v - m), 0));
      };
      assertClose('objective value', [r.objective.value], [await lp(null, 1)], { atol: 1e-5, rtol: 1e-5 });
      const h = 1e-2;
      for (const hk of r.hooks) {
        const fd = ((await lp(hk.name, 1 + h)) - (await lp(hk.name, 1 - h))) / (2 * h);
        assert.ok(Math.abs(fd - hk.gradXAct) <= 2e-4 + 2e-3 * Math.abs(fd), `${hk.name}: finite difference ${fd} vs gradXAct ${hk.gradXAct}`);
      }
    } finally {
      model.dispose();
    }
  });

  it('flags a dead layer (zero gradient) as zero and the rest of its group as healthy', async () => {
    const model = loadModel(fixtureDir('gpt2-tiny'));
    try {
      const ln = model.params.layers[0]!.ln1;
      ln.w.dispose();
      ln.b!.dispose();
      ln.w = tf.zeros(ln.w.shape) as tf.Tensor1D;
      ln.b = tf.zeros(ln.w.shape) as tf.Tensor1D;
      const r = await gradientReport(model, { ids });
      const by = new Map(r.params.map((p) => [p.name, p]));
      assert.deepEqual(by.get('layers.0.wQKV')!.flags, ['zero']);
      assert.deepEqual(by.get('layers.1.wQKV')!.flags, []);
      assert.ok(r.flagged.some((f) => f.name === 'layers.0.wQKV'));
    } finally {
      model.dispose();
    }
  });

  it('flags exploding gradients (final norm scaled by 1e8) and non-finite ones (NaN embedding)', async () => {
    const model = loadModel(fixtureDir('gpt2-tiny'));
    try {
      const w = model.params.lnF.w;
      model.params.lnF.w = tf.mul(w, 1e8) as tf.Tensor1D;
      w.dispose();
      const r = await gradientReport(model, { ids, params: false });
      const resid = r.hooks.find((h) => h.name === 'blocks.1.hook_resid_post')!;
      assert.ok(resid.flags.includes('exploding'), `resid_post flags ${resid.flags} (rms ${resid.gradRms})`);
    } finally {
      model.dispose();
    }
    const m2 = loadModel(fixtureDir('gpt2-tiny'));
    try {
      const wte = m2.params.wte;
      const data = (await wte.data()).slice() as Float32Array;
      data[ids[1]! * m2.config.dModel] = NaN;
      m2.params.wte = tf.tensor2d(data, wte.shape);
      if (m2.params.wU === wte) m2.params.wU = m2.params.wte; // tied
      wte.dispose();
      const r = await gradientReport(m2, { ids });
      assert.ok(r.hooks.find((h) => h.name === 'hook_embed')!.flags.includes('nonfinite'));
      assert.ok(r.flagged.length > 0);
    } finally {
      m2.dispose();
    }
  });

  it('flag rules: group medians and absolute limits', () => {
    const f = flagAll([
      { group: 'a', rms: 1, norm: 1, nonFinite: 0 },
      { group: 'a', rms: 1.1, norm: 1, nonFinite: 0 },
      { group: 'a', rms: 1e-5, norm: 1, nonFinite: 0 },
      { group: 'a', rms: 1e4 + 1, norm: 1, nonFinite: 0 },
      { group: 'b', rms: 0, norm: 0, nonFinite: 0 },
      { group: 'b', rms: NaN, norm: NaN, nonFinite: 3 },
    ]);
    assert.deepEqual(f, [[], [], ['vanishing'], ['exploding'], ['zero'], ['nonfinite']]);
  });

  it('refuses a one-token text for cross-entropy', async () => {
    const model = loadModel(fixtureDir('gpt2-tiny'));
    try {
      await assert.rejects(gradientReport(model, { ids: [1] }), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_argument');
    } finally {
      model.dispose();
    }
  });
});
