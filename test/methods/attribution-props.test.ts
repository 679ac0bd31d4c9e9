/**
 * Properties of input attribution that need no reference file: directional finite differences of
 * the gradients (single, contrastive and every continuation term), completeness of integrated
 * gradients converging as steps grow, quadrature closed forms, shared-forward VJPs equal to the
 * public API, results independent of the memory bound, seeded noise, words, and error codes.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { LlmdbgError } from '../../src/errors.js';
import { Rng } from '../../src/engine/rng.js';
import { attribute } from '../../src/methods/attribution/attribute.js';
import { gradientPass } from '../../src/methods/attribution/passes.js';
import { inputEmbeds, objectiveValues, type Objective } from '../../src/methods/attribution/objective.js';
import { legendreGauss, quadrature } from '../../src/methods/attribution/quadrature.js';
import { aggregateWords, wordSpans } from '../../src/methods/attribution/words.js';
import { rowsPerBatch } from '../../src/methods/attribution/memory.js';
import { parseBaseline } from '../../src/methods/attribution/baseline.js';
import { IG_RULE_NAMES, resolveMethod } from '../../src/methods/attribution/registry.js';
import type { ContinuationAttribution, SingleAttribution } from '../../src/methods/attribution/types.js';

before(async () => {
  await useTestBackend();
});

async function rejects(p: Promise<unknown> | (() => unknown), code: string, re?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof LlmdbgError, `expected LlmdbgError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.fail(`expected error ${code}`);
}

describe('quadrature (Captum definitions)', () => {
  it('Gauss-Legendre matches closed forms and integrates degree 2N-1 polynomials exactly', () => {
    const g2 = legendreGauss(2);
    assertClose('GL2 nodes', g2.x, [-1 / Math.sqrt(3), 1 / Math.sqrt(3)], { atol: 1e-15, rtol: 0 });
    assertClose('GL2 weights', g2.w, [1, 1], { atol: 1e-15, rtol: 0 });
    const g3 = legendreGauss(3);
    assertClose('GL3 nodes', g3.x, [-Math.sqrt(0.6), 0, Math.sqrt(0.6)], { atol: 1e-15, rtol: 0 });
    assertClose('GL3 weights', g3.w, [5 / 9, 8 / 9, 5 / 9], { atol: 1e-15, rtol: 0 });
    for (const n of [1, 5, 12, 50]) {
      const q = quadrature('gauss-legendre', n);
      for (let k = 0; k <= 2 * n - 1; k++) {
        const integral = q.alphas.reduce((s, a, i) => s + q.weights[i]! * a ** k, 0);
        assert.ok(Math.abs(integral - 1 / (k + 1)) < 1e-12, `n=${n} k=${k}: ${integral}`);
      }
    }
  });

  it('Riemann rules: Captum alphas, weights 1/N, trapezoid ends halved (weights sum to 1 - 1/N)', () => {
    const n = 4;
    assert.deepEqual(quadrature('riemann-left', n).alphas, [0, 0.25, 0.5, 0.75]);
    assert.deepEqual(quadrature('riemann-right', n).alphas, [0.25, 0.5, 0.75, 1]);
    assertClose('middle', quadrature('riemann-middle', n).alphas, [0.125, 0.375, 0.625, 0.875], { atol: 1e-15, rtol: 0 });
    const t = quadrature('riemann-trapezoid', n);
    assertClose('trapezoid alphas', t.alphas, [0, 1 / 3, 2 / 3, 1], { atol: 1e-15, rtol: 0 });
    assert.deepEqual(t.weights, [0.125, 0.25, 0.25, 0.125]);
    for (const r of IG_RULE_NAMES) assert.equal(quadrature(r, 7).alphas.length, 7, `${r}: N counts gradient evaluations`);
  });

  it('refuses too few steps', async () => {
    await rejects(() => quadrature('riemann-trapezoid', 1), 'invalid_argument', /at least 2/);
    await rejects(() => quadrature('gauss-legendre', 0), 'invalid_argument');
  });
});

describe('gradients: directional finite differences', () => {
  for (const name of ['gpt2-tiny', 'llama-tiny']) {
    it(`${name}: single, contrastive and every continuation term`, async () => {
      const model = loadModel(fixtureDir(name));
      try {
        const ids = golden(name).ids[0]!;
        const T = ids.length;
        const C = model.config.dModel;
        const objectives: Objective[] = [
          { positions: [T - 1], targets: [ids[1]!], foils: [null] },
          { positions: [T - 1], targets: [ids[1]!], foils: [ids[2]!] },
          { positions: [2, 3, 4, T - 1], targets: [ids[3]!, ids[4]!, ids[5]!, ids[0]!], foils: [null, null, null, null] },
        ];
        const rng = new Rng(42);
        for (const obj of objectives) {
          const x = inputEmbeds(model, ids);
          const p = await gradientPass(model, obj, { count: 1, T, C, make: () => tf.clone(x) }, [1]);
          for (let g = 0; g < obj.positions.length; g++) {
            const v = Float32Array.from({ length: T * C }, () => rng.float() * 2 - 1);
            const vn = Math.hypot(...v);
            for (let i = 0; i < v.length; i++) v[i] = v[i]! / vn; // unit direction
            const h = 1e-2;
            const f = (sign: number) => tf.tidy(() => {
              const xv = tf.add(x, tf.mul(tf.tensor3d(v, [1, T, C]), sign * h)) as tf.Tensor3D;
              return objectiveValues(model, xv, obj).dataSync()[g]!;
            });
            const fd = (f(1) - f(-1)) / (2 * h);
            let dot = 0;
            for (let i = 0; i < v.length; i++) dot += v[i]! * p.sum[g]![i]!;
            // Float32 central differences carry rounding noise: the same gradient (equal to 1e-6
            // across the native, XNNPACK and llmdbg WASM kernels) met finite differences that moved
            // by up to 3e-4 between those kernels, so the absolute slack is 5e-4.
            assert.ok(Math.abs(fd - dot) <= 5e-4 + 1e-3 * Math.abs(dot), `${name} term ${g} (${obj.foils[g] === null ? 'logprob' : 'contrastive'}): finite difference ${fd} vs gradient ${dot}`);
          }
          x.dispose();
        }
      } finally {
        model.dispose();
      }
    });
  }
});

describe('attribution properties (gpt2-tiny)', () => {
  let model: Model;
  let ids: number[];
  before(() => {
    model = loadModel(fixtureDir('gpt2-tiny'));
    ids = golden('gpt2-tiny').ids[0]!;
  });

  it('integrated gradients: the completeness gap shrinks as steps grow (GPT-2 and Llama, token baseline)', async () => {
    for (const name of ['gpt2-tiny', 'llama-tiny']) {
      const m = name === 'gpt2-tiny' ? model : loadModel(fixtureDir(name));
      const mids = golden(name).ids[0]!;
      const gap = async (rule: 'gauss-legendre' | 'riemann-middle' | 'riemann-trapezoid', steps: number) =>
        ((await attribute(m, { ids: mids, method: 'integrated-gradients', rule, steps, baseline: { kind: 'token', id: 2 } })) as SingleAttribution).completeness!.relative;
      const [gl16, gl64] = [await gap('gauss-legendre', 16), await gap('gauss-legendre', 64)];
      assert.ok(gl64 < gl16 / 100 && gl64 < 1e-5, `${name} gauss-legendre relative gaps ${gl16} -> ${gl64}`);
      // midpoint: O(1/N^2); Captum's trapezoid (weights sum to 1 - 1/N): O(1/N)
      const [m16, m64] = [await gap('riemann-middle', 16), await gap('riemann-middle', 64)];
      assert.ok(m64 < m16 / 8, `${name} riemann-middle ${m16} -> ${m64}`);
      const [t16, t64] = [await gap('riemann-trapezoid', 16), await gap('riemann-trapezoid', 64)];
      assert.ok(t64 < t16 / 3 && t64 > t16 / 6, `${name} riemann-trapezoid ${t16} -> ${t64}`);
      if (m !== model) m.dispose();
    }
  });

  it('warns that a zero baseline sits on RMSNorm\'s singularity in rotary models', async () => {
    const m = loadModel(fixtureDir('llama-tiny'));
    try {
      const r = (await attribute(m, { ids: golden('llama-tiny').ids[0]!, method: 'integrated-gradients', steps: 4 })) as SingleAttribution;
      assert.match(r.warnings.join('\n'), /zero baseline .* RMSNorm/);
      const g = (await attribute(model, { ids, method: 'integrated-gradients', steps: 32 })) as SingleAttribution;
      assert.doesNotMatch(g.warnings.join('\n'), /RMSNorm/);
    } finally {
      m.dispose();
    }
  });

  it('integrated gradients reads f(input) and f(baseline) from its end points when the rule has them, else runs forwards', async () => {
    const ref = (await attribute(model, { ids, method: 'occlusion' })) as SingleAttribution; // a separate forward at the input
    const base = { kind: 'token' as const, id: 2 };
    const fBase = ((await attribute(model, { ids: ids.map(() => 2), target: ref.target.id, method: 'occlusion' })) as SingleAttribution).target.logprob;
    for (const [rule, extra] of [['riemann-trapezoid', 0], ['riemann-right', 1], ['riemann-middle', 2], ['gauss-legendre', 2]] as const) {
      const r = (await attribute(model, { ids, target: ref.target.id, method: 'integrated-gradients', rule, steps: 5, baseline: base })) as SingleAttribution;
      assert.equal(r.info.forwardRows, 5 + extra, rule);
      assert.ok(Math.abs(r.completeness!.fInput - ref.target.logprob) < 1e-5, `${rule} f(input) ${r.completeness!.fInput} vs ${ref.target.logprob}`);
      assert.ok(Math.abs(r.completeness!.fBaseline - fBase) < 1e-5, `${rule} f(baseline) ${r.completeness!.fBaseline} vs ${fBase}`);
      assert.equal(r.target.logprob, r.completeness!.fInput, rule);
    }
  });

  it('a large completeness gap carries a warning; a small one does not', async () => {
    const coarse = (await attribute(model, { ids, method: 'integrated-gradients', rule: 'riemann-left', steps: 2 })) as SingleAttribution;
    assert.ok(coarse.completeness!.relative > 0.05);
    assert.match(coarse.warnings.join('\n'), /completeness gap .* raise --steps \(now 2\)/);
    const fine = (await attribute(model, { ids, method: 'integrated-gradients', steps: 32 })) as SingleAttribution;
    assert.deepEqual(fine.warnings, []);
  });

  it('the memory bound changes batching, not results (IG, SmoothGrad, occlusion, continuation)', async () => {
    for (const req of [
      { method: 'integrated-gradients' as const, steps: 6 },
      { method: 'smoothgrad' as const, samples: 5, noise: 0.3, seed: 3 },
      { method: 'occlusion' as const },
    ]) {
      const big = (await attribute(model, { ids, ...req })) as SingleAttribution;
      const small = (await attribute(model, { ids, ...req, memoryMB: 1e-6 })) as SingleAttribution;
      assert.equal(small.info.batchRows, 1);
      assert.ok(big.info.batchRows > 1, `${req.method}: default budget batches rows`);
      assertClose(`${req.method} batching`, small.scores, big.scores, { atol: 1e-5, rtol: 1e-5 });
    }
    const c = { ids: ids.slice(0, 3), continuation: ids.slice(3), method: 'integrated-gradients' as const, steps: 4 };
    const big = (await attribute(model, c)) as ContinuationAttribution;
    const small = (await attribute(model, { ...c, memoryMB: 1e-6 })) as ContinuationAttribution;
    big.scores.forEach((row, g) => assertClose(`continuation row ${g}`, small.scores[g]!, row, { atol: 1e-5, rtol: 1e-5 }));
    assert.equal(rowsPerBatch(model.config, 8, 1, 100, 1e-6), 1);
    assert.equal(rowsPerBatch(model.config, 8, 1, 3, 1e6), 3);
  });

  it('continuation: one recorded forward for all backward passes equals one forward per token', async () => {
    const c = { ids: ids.slice(0, 3), continuation: ids.slice(3), method: 'saliency' as const };
    const shared = (await attribute(model, c)) as ContinuationAttribution;
    const separate = (await attribute(model, { ...c, reuseForward: false })) as ContinuationAttribution;
    assert.deepEqual(shared.scores, separate.scores);
    const G = c.continuation.length;
    assert.equal(shared.info.sharedForward, true);
    assert.equal(shared.info.forwardRows, 1); // the gradient forward also gives the target log-probabilities
    assert.equal(separate.info.forwardRows, G);
    assert.equal(shared.info.backwardRows, G);
    // Row g attributes token P+g to the P+g tokens before it; each row matches a single-target run.
    for (let g = 0; g < G; g++) {
      const one = (await attribute(model, { ids: ids.slice(0, 3 + g), target: ids[3 + g]!, method: 'saliency' })) as SingleAttribution;
      assertClose(`row ${g} vs single target`, shared.scores[g]!, one.scores, { atol: 1e-5, rtol: 1e-4 });
      // saliency takes the log-probability from its gradient pass; occlusion runs a separate forward for it
      const occ = (await attribute(model, { ids: ids.slice(0, 3 + g), target: ids[3 + g]!, method: 'occlusion' })) as SingleAttribution;
      assert.equal(one.info.forwardRows, 1);
      assert.equal(one.target.logprob, occ.target.logprob);
      assert.ok(Math.abs(shared.target.logprobs[g]! - occ.target.logprob) < 1e-5, `continuation logprob ${g}`); // G rows per product: not bitwise
    }
  });

  it('SmoothGrad/VarGrad: seeded, zero noise reduces to saliency and to zero variance', async () => {
    const a = (await attribute(model, { ids, method: 'smoothgrad', samples: 3, noise: 0.5, seed: 9 })) as SingleAttribution;
    const b = (await attribute(model, { ids, method: 'smoothgrad', samples: 3, noise: 0.5, seed: 9 })) as SingleAttribution;
    const c = (await attribute(model, { ids, method: 'smoothgrad', samples: 3, noise: 0.5, seed: 10 })) as SingleAttribution;
    assert.deepEqual(a.scores, b.scores);
    assert.notDeepEqual(a.scores, c.scores);
    const sal = (await attribute(model, { ids, method: 'saliency' })) as SingleAttribution;
    const quiet = (await attribute(model, { ids, method: 'smoothgrad', samples: 2, noise: 0 })) as SingleAttribution;
    assertClose('noise 0 = saliency', quiet.scores, sal.scores, { atol: 1e-6, rtol: 1e-6 });
    const v0 = (await attribute(model, { ids, method: 'vargrad', samples: 3, noise: 0 })) as SingleAttribution;
    // E[g^2] - E[g]^2 of identical gradients: zero up to float32 rounding of ||g||^2
    assert.ok(v0.scores.every((s, t) => s <= 1e-6 * sal.scores[t]! ** 2), `vargrad at zero noise ${v0.scores}`);
    const v = (await attribute(model, { ids, method: 'vargrad', samples: 4, noise: 0.5 })) as SingleAttribution;
    assert.ok(v.scores.every((s) => s > 0), 'variance under noise is positive');
  });

  it('occlusion: replacing a token by itself changes nothing; words and tokens are reported', async () => {
    const t = 2;
    const r = (await attribute(model, { ids, method: 'occlusion', baseline: { kind: 'token', id: ids[t]! } })) as SingleAttribution;
    assert.ok(Math.abs(r.scores[t]!) < 1e-5, `self-replacement score ${r.scores[t]}`);
    assert.equal(r.tokens.length, ids.length);
    assert.equal(r.tokens[0]!.text, `[${ids[0]}]`); // no tokenizer: ids as pieces
    assert.equal(r.words.length, ids.length);
    assert.equal(r.info.forwardRows, ids.length + 1);
    assert.equal(r.info.backwardRows, 0);
  });

  it('refuses bad requests with stable codes', async () => {
    await rejects(() => resolveMethod('integrated-gradient'), 'unknown_method', /closest: integrated-gradients/);
    await rejects(attribute(model, { ids, method: 'saliency', target: 5, foil: 5 }), 'invalid_argument', /foil is the target/);
    await rejects(attribute(model, { ids, method: 'saliency', target: 999 }), 'token_out_of_range');
    await rejects(attribute(model, { ids, method: 'saliency', continuation: [1], target: 1 }), 'invalid_argument', /continuation/);
    await rejects(attribute(model, { ids, method: 'saliency', continuation: [] }), 'invalid_argument', /empty/);
    await rejects(attribute(model, { ids, method: 'integrated-gradients', baseline: { kind: 'ids', ids: [1, 2] } }), 'invalid_argument', /2 ids but the input has 8/);
    await rejects(attribute(model, { ids, method: 'smoothgrad', samples: 0 }), 'invalid_argument', /--samples/);
    await rejects(() => parseBaseline(model, 'pad', ids.length), 'invalid_argument', /no pad token/);
    await rejects(() => parseBaseline(model, 'nonsense', ids.length), 'invalid_argument');
    assert.deepEqual(parseBaseline(model, 'ids:1,2,3,4,5,6,7,8', 8), { kind: 'ids', ids: [1, 2, 3, 4, 5, 6, 7, 8] });
    assert.deepEqual(parseBaseline(model, '7', 8), { kind: 'token', id: 7 });
  });
});

describe('words from token pieces', () => {
  it('splits at spaces and punctuation, joins subword pieces, aggregates sums and L2 norms', () => {
    const pieces = ['<s>', ' The', ' cat', 's', ',', ' sat', ' on', 'the', '', ' mat', '.'];
    const w = wordSpans(pieces);
    assert.deepEqual(w.map((x) => x.text), ['<s>', ' The', ' cats', ',', ' sat', ' onthe', ' mat', '.']);
    assert.deepEqual(w.map((x) => [x.start, x.end]), [[0, 1], [1, 2], [2, 4], [4, 5], [5, 6], [6, 9], [9, 10], [10, 11]]);
    const scores = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    assert.deepEqual(aggregateWords(w, scores, 'sum', false).map((x) => x.score), [1, 2, 7, 5, 6, 24, 10, 11]);
    assert.equal(aggregateWords(w, scores, 'norm', true)[2]!.score, 5); // sqrt(3^2 + 4^2)
    assert.equal(aggregateWords(w, scores.slice(0, 3), 'sum', false).at(-1)!.end, 3, 'words clipped to a ragged row');
    assert.deepEqual(wordSpans(['<s>', 'The', ' cat', '<|endoftext|>', 'A']).map((x) => x.text), ['<s>', 'The', ' cat', '<|endoftext|>', 'A'], 'special tokens are words of their own');
  });
});
