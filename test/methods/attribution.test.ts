/**
 * Attribution parity with the independent PyTorch reference: every method (saliency L2/L1,
 * input x gradient, integrated gradients with every Captum rule and three baselines, SmoothGrad
 * and VarGrad on the same seeded noise, occlusion), contrastive targets and whole continuations,
 * on GPT-2, Llama and Qwen2 fixtures (test/fixtures/attribution, tools/make_attribution_fixtures.py,
 * float64 reference); plus the saliency gradient and trapezoid IG of golden.json on every fixture.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose, type Tol } from '../helpers/close.js';
import { ROOT, fixtureDir, fixtureNames, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { attribute } from '../../src/methods/attribution/attribute.js';
import type { AttributeRequest, ContinuationAttribution, SingleAttribution } from '../../src/methods/attribution/types.js';
import type { IgRule } from '../../src/methods/attribution/registry.js';

interface IgRef { steps: number; scores: number[]; f_input: number; f_baseline: number }
interface Ref {
  ids: number[]; target_id: number; foil_id: number; token_baseline: number; custom_baseline_ids: number[];
  saliency_l2: number[]; saliency_l1: number[]; input_x_gradient: number[];
  integrated_gradients: Record<string, IgRef>;
  smoothgrad: { samples: number; noise: number; seed: number; sigma: number; scores_l2: number[] };
  vargrad: { samples: number; noise: number; seed: number; scores: number[] };
  occlusion_zero: number[]; occlusion_token: number[];
  contrastive: { saliency_l2: number[]; input_x_gradient: number[]; ig_gausslegendre: number[]; f_input: number; f_baseline: number; occlusion_token: number[] };
  continuation: {
    prompt: number[]; continuation: number[]; saliency_l2: number[][]; input_x_gradient: number[][];
    ig_gausslegendre: number[][]; f_input: number[]; f_baseline: number[];
    smoothgrad: { samples: number; noise: number; seed: number; scores_l2: number[][] }; occlusion_token: number[][];
  };
}

const MODELS = ['gpt2-tiny', 'llama-tiny', 'qwen2-tiny'];
const RULES: Record<string, IgRule> = {
  riemann_left: 'riemann-left', riemann_right: 'riemann-right', riemann_middle: 'riemann-middle',
  riemann_trapezoid: 'riemann-trapezoid', gausslegendre: 'gauss-legendre',
};
// float32 TypeScript vs float64 reference; IG sums 8 gradient evaluations (and the zero baseline
// of RMSNorm models amplifies values to the hundreds), so it gets a looser relative tolerance.
const TOL: Tol = { atol: 2e-5, rtol: 2e-4 };
const IG_TOL: Tol = { atol: 1e-4, rtol: 1e-3 };

function ref(name: string): Ref {
  return JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'attribution', `${name}.json`), 'utf8')) as Ref;
}

before(async () => {
  await useTestBackend();
});

for (const name of MODELS) {
  describe(`attribution parity: ${name}`, () => {
    const r = ref(name);
    let model: Model;
    let tensors0 = 0;
    const single = async (req: Omit<AttributeRequest, 'ids'>) => (await attribute(model, { ids: r.ids, ...req })) as SingleAttribution;
    const cont = async (req: Omit<AttributeRequest, 'ids' | 'continuation'>) =>
      (await attribute(model, { ids: r.continuation.prompt, continuation: r.continuation.continuation, ...req })) as ContinuationAttribution;
    const rows = (label: string, actual: number[][], expected: number[][], tol: Tol = TOL) => {
      assert.deepEqual(actual.map((x) => x.length), expected.map((x) => x.length), `${label}: ragged row lengths`);
      actual.forEach((row, g) => assertClose(`${label} row ${g}`, row, expected[g]!, tol));
    };

    before(() => {
      model = loadModel(fixtureDir(name));
      tensors0 = tf.memory().numTensors;
    });

    it('saliency (L2 and L1) and input x gradient, default target = top prediction', async () => {
      const l2 = await single({ method: 'saliency' });
      assert.equal(l2.target.id, r.target_id);
      assert.equal(l2.target.source, 'top');
      assertClose('saliency l2', l2.scores, r.saliency_l2, TOL);
      assertClose('saliency l1', (await single({ method: 'saliency', norm: 'l1' })).scores, r.saliency_l1, TOL);
      assertClose('input x gradient', (await single({ method: 'input-x-gradient', target: r.target_id })).scores, r.input_x_gradient, TOL);
    });

    it('integrated gradients: every Captum rule, zero baseline, with f(input), f(baseline) and delta', async () => {
      for (const [key, rule] of Object.entries(RULES)) {
        const e = r.integrated_gradients[key]!;
        const a = await single({ method: 'integrated-gradients', rule, steps: e.steps });
        assertClose(`IG ${rule}`, a.scores, e.scores, IG_TOL);
        const c = a.completeness!;
        assertClose(`IG ${rule} f`, [c.fInput, c.fBaseline], [e.f_input, e.f_baseline], TOL);
        const expectDelta = e.scores.reduce((s, v) => s + v, 0) - (e.f_input - e.f_baseline);
        assert.ok(Math.abs(a.delta! - expectDelta) <= 1e-3 * (1 + Math.abs(expectDelta)), `IG ${rule} delta ${a.delta} vs ${expectDelta}`);
        assert.equal(a.info.backwardRows, e.steps);
      }
    });

    it('integrated gradients with a token baseline and a custom-ids baseline', async () => {
      const tok = r.integrated_gradients['gausslegendre_token']!;
      const a = await single({ method: 'integrated-gradients', rule: 'gauss-legendre', steps: tok.steps, baseline: { kind: 'token', id: r.token_baseline } });
      assertClose('IG token baseline', a.scores, tok.scores, IG_TOL);
      assertClose('IG token f(baseline)', [a.completeness!.fBaseline], [tok.f_baseline], TOL);
      const ids = r.integrated_gradients['riemann_middle_ids']!;
      const b = await single({ method: 'integrated-gradients', rule: 'riemann-middle', steps: ids.steps, baseline: { kind: 'ids', ids: r.custom_baseline_ids } });
      assertClose('IG ids baseline', b.scores, ids.scores, IG_TOL);
    });

    it('SmoothGrad and VarGrad on the same seeded noise as the reference', async () => {
      const sg = r.smoothgrad;
      const a = await single({ method: 'smoothgrad', samples: sg.samples, noise: sg.noise, seed: sg.seed });
      assertClose('smoothgrad sigma', [a.info.parameters['sigma'] as number], [sg.sigma], { atol: 0, rtol: 1e-5 });
      assertClose('smoothgrad', a.scores, sg.scores_l2, TOL);
      const vg = r.vargrad;
      const b = await single({ method: 'vargrad', samples: vg.samples, noise: vg.noise, seed: vg.seed });
      assertClose('vargrad', b.scores, vg.scores, { atol: 1e-5, rtol: 1e-3 });
    });

    it('occlusion with the zero vector and with a token', async () => {
      assertClose('occlusion zero', (await single({ method: 'occlusion', baseline: { kind: 'zero' } })).scores, r.occlusion_zero, TOL);
      assertClose('occlusion token', (await single({ method: 'occlusion', baseline: { kind: 'token', id: r.token_baseline } })).scores, r.occlusion_token, TOL);
    });

    it('contrastive target minus foil, for saliency, input x gradient, IG and occlusion', async () => {
      const c = r.contrastive;
      const base = { target: r.target_id, foil: r.foil_id };
      const s = await single({ method: 'saliency', ...base });
      assert.equal(s.target.foil?.id, r.foil_id);
      assertClose('contrastive value', [s.target.value], [c.f_input], TOL);
      assertClose('contrastive saliency', s.scores, c.saliency_l2, TOL);
      assertClose('contrastive ixg', (await single({ method: 'input-x-gradient', ...base })).scores, c.input_x_gradient, TOL);
      const ig = await single({ method: 'integrated-gradients', rule: 'gauss-legendre', steps: 8, ...base });
      assertClose('contrastive IG', ig.scores, c.ig_gausslegendre, IG_TOL);
      assertClose('contrastive IG f(baseline)', [ig.completeness!.fBaseline], [c.f_baseline], TOL);
      assertClose('contrastive occlusion', (await single({ method: 'occlusion', baseline: { kind: 'token', id: r.token_baseline }, ...base })).scores, c.occlusion_token, TOL);
    });

    it('whole continuation: source x generated matrix for every method, one shared forward per batch', async () => {
      const c = r.continuation;
      const s = await cont({ method: 'saliency' });
      assert.equal(s.kind, 'continuation');
      assert.equal(s.info.sharedForward, true);
      assert.equal(s.tokens.length, c.prompt.length + c.continuation.length - 1);
      rows('continuation saliency', s.scores, c.saliency_l2);
      rows('continuation ixg', (await cont({ method: 'input-x-gradient' })).scores, c.input_x_gradient);
      const ig = await cont({ method: 'integrated-gradients', rule: 'gauss-legendre', steps: 8 });
      rows('continuation IG', ig.scores, c.ig_gausslegendre, IG_TOL);
      assertClose('continuation IG f(input)', ig.completeness!.map((x) => x.fInput), c.f_input, TOL);
      assertClose('continuation IG f(baseline)', ig.completeness!.map((x) => x.fBaseline), c.f_baseline, TOL);
      assert.equal(ig.delta!.length, c.continuation.length);
      const sg = c.smoothgrad;
      rows('continuation smoothgrad', (await cont({ method: 'smoothgrad', samples: sg.samples, noise: sg.noise, seed: sg.seed })).scores, sg.scores_l2);
      rows('continuation occlusion', (await cont({ method: 'occlusion', baseline: { kind: 'token', id: r.token_baseline } })).scores, c.occlusion_token);
    });

    it('leaves no tensors behind', () => {
      assert.equal(tf.memory().numTensors, tensors0);
    });
  });
}

describe('golden.json saliency gradient and trapezoid IG on every fixture model', () => {
  for (const name of fixtureNames()) {
    it(name, async () => {
      const g = golden(name);
      const model = loadModel(fixtureDir(name));
      try {
        const ids = g.ids[0]!;
        const T = ids.length;
        const C = model.config.dModel;
        const gr = g.saliency.grad_embed.data;
        const norms = Array.from({ length: T }, (_, t) => Math.hypot(...gr.slice(t * C, (t + 1) * C)));
        const s = (await attribute(model, { ids, method: 'saliency' })) as SingleAttribution;
        assert.equal(s.target.id, g.saliency.target_id);
        assertClose(`${name} saliency`, s.scores, norms, { atol: 1e-4, rtol: 1e-4 });
        const ig = (await attribute(model, { ids, method: 'integrated-gradients', rule: 'riemann-trapezoid', steps: 16 })) as SingleAttribution;
        // golden.json weights the trapezoid 1/(N-1) with halved ends; Captum (and llmdbg) use 1/N.
        const igRef = g.saliency.integrated_gradients;
        assertClose(`${name} IG`, ig.scores, igRef.ig_trapezoid_16.data.map((v) => (v * 15) / 16), { atol: 1e-3, rtol: 1e-3 });
        assertClose(`${name} IG f`, [ig.completeness!.fInput, ig.completeness!.fBaseline], [igRef.f_input, igRef.f_baseline], { atol: 1e-4, rtol: 1e-4 });
      } finally {
        model.dispose();
      }
    });
  }
});
