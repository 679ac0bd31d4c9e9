/**
 * Tensor health: closed-form statistics on known tensors, float16/bfloat16 classification against
 * the bit-exact encoders of safetensors-dtypes.ts, statistics per hook point against the PyTorch
 * golden activations, and firstNonFinite with a NaN/Inf injected into one activation by a hook.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { Rng } from '../../src/engine/rng.js';
import { floatToBf16Bits, floatToF16Bits } from '../../src/formats/safetensors-dtypes.js';
import { MASKED_SCORE } from '../../src/model/layers/attention.js';
import { healthRun, tensorHealth, checkHealthMode, F16_MAX } from '../../src/methods/health/index.js';

before(async () => {
  await useTestBackend();
});

const close = (a: number | null | undefined, e: number, tol = 1e-9) => assert.ok(typeof a === 'number' && Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `${a} vs ${e}`);

describe('health: closed-form statistics', () => {
  it('min, max, mean, population std, norm and zeros of a known tensor', () => {
    const h = tensorHealth([1, 2, 3, 4, 0, 0], [2, 3], 'stats');
    assert.equal(h.size, 6);
    assert.equal(h.min, 0);
    assert.equal(h.max, 4);
    close(h.mean, 10 / 6);
    const m = 10 / 6;
    close(h.std, Math.sqrt([1, 2, 3, 4, 0, 0].reduce((s, x) => s + (x - m) ** 2, 0) / 6));
    close(h.norm, Math.sqrt(30));
    close(h.zeroFraction, 2 / 6);
    assert.equal(h.absMax, undefined, 'absMax only in full mode');
  });

  it('the shifted one-pass variance stays exact far from zero (1e6 + {0, 1, 2})', () => {
    const h = tensorHealth(new Float32Array([1e6, 1e6 + 1, 1e6 + 2]), [3], 'stats');
    close(h.mean, 1e6 + 1);
    close(h.std, Math.sqrt(2 / 3), 1e-12);
  });

  it('counts NaN, +Inf and -Inf and leaves them out of the statistics', () => {
    const h = tensorHealth([NaN, Infinity, -Infinity, -Infinity, 2, 4], [6], 'full');
    assert.deepEqual([h.nanCount, h.posInfCount, h.negInfCount], [1, 1, 2]);
    assert.equal(h.mean, 3);
    assert.equal(h.absMax, 4);
    const f = tensorHealth([NaN, Infinity, 1], [3], 'finite');
    assert.deepEqual([f.nanCount, f.posInfCount, f.negInfCount, f.mean], [1, 1, 0, undefined]);
  });

  it('shape mode reads no data; unknown modes are refused', () => {
    assert.deepEqual(tensorHealth([], [2, 3, 4], 'shape'), { shape: [2, 3, 4], size: 24 });
    assert.throws(() => checkHealthMode('fast'), /unknown health mode "fast"/);
  });

  it('masked attention scores (float32 minimum) are counted apart, not as fp16 overflows', () => {
    const scores = [0.5, MASKED_SCORE, -1.5, MASKED_SCORE];
    const h = tensorHealth(new Float32Array(scores), [1, 1, 2, 2], 'full', { masked: true });
    assert.equal(h.maskedCount, 2);
    assert.equal(h.min, -1.5);
    assert.equal(h.fp16!.overflowCount, 0);
    const raw = tensorHealth(new Float32Array(scores), [1, 1, 2, 2], 'full');
    assert.equal(raw.fp16!.overflowCount, 2, 'without masking the minimum overflows float16');
  });

  it('fp16 headroom: |x| > 65504 overflows, headroom bits = log2(65504 / |x| max)', () => {
    const h = tensorHealth([65504, -65505, 70000, 1e5, 1], [5], 'full');
    assert.equal(h.fp16!.overflowCount, 3);
    close(h.fp16!.headroomBits, Math.log2(F16_MAX / 1e5));
    assert.ok(h.fp16!.headroomBits! < 0);
    assert.equal(h.bf16!.overflowCount, 0);
    assert.equal(tensorHealth([0, 0], [2], 'full').fp16!.headroomBits, null);
  });

  it('fp16 and bf16 underflow/subnormal counts agree with round-to-nearest-even encoding', () => {
    const rng = new Rng(7);
    const vals: number[] = [2 ** -25, 2 ** -24, 1023.5 * 2 ** -24, 1023.49 * 2 ** -24, 2 ** -14, 2 ** -134, 2 ** -133, 127.5 * 2 ** -133, 2 ** -126, 5.9e-8, 3e-8];
    for (let i = 0; i < 4000; i++) vals.push((rng.float() < 0.5 ? -1 : 1) * 2 ** (-140 + rng.float() * 140));
    const data = new Float32Array(vals);
    const h = tensorHealth(data, [data.length], 'full');
    let f16Under = 0, f16Sub = 0, bfUnder = 0, bfSub = 0;
    for (const x of data) {
      if (x === 0) continue;
      const f = floatToF16Bits(x) & 0x7fff;
      if (f === 0) f16Under++;
      else if (f < 0x400) f16Sub++;
      const b = floatToBf16Bits(x) & 0x7fff;
      if (b === 0) bfUnder++;
      else if (b < 0x80) bfSub++;
    }
    assert.equal(h.fp16!.underflowCount, f16Under);
    assert.equal(h.fp16!.subnormalCount, f16Sub);
    assert.equal(h.bf16!.underflowCount, bfUnder);
    assert.equal(h.bf16!.subnormalCount, bfSub);
    assert.ok(f16Under > 100 && f16Sub > 10 && bfUnder > 0 && bfSub > 0, 'the sample covers every class');
  });
});

describe('health: every hook point of a forward pass', () => {
  let model: Model;
  const g = golden('gpt2-tiny');
  before(() => {
    model = loadModel(fixtureDir('gpt2-tiny'));
  });

  it('rows follow execution order and their statistics match the PyTorch activations', () => {
    const n0 = tf.memory().numTensors;
    const rep = healthRun(model, g.ids[0]!, { mode: 'full' });
    assert.equal(tf.memory().numTensors, n0, 'no tensor leaks');
    assert.deepEqual(rep.rows.map((r) => r.hook), Object.keys(g.hooks));
    assert.equal(rep.firstNonFinite, null);
    for (const r of rep.rows) {
      const ref = g.hooks[r.hook]!.data.filter((x) => !(r.site === 'attn.hook_attn_scores' && x < -1e38));
      const mean = ref.reduce((a, b) => a + b, 0) / ref.length;
      const std = Math.sqrt(ref.reduce((a, b) => a + (b - mean) ** 2, 0) / ref.length);
      close(r.mean, mean, 1e-4);
      close(r.std, std, 1e-4);
      close(r.max, Math.max(...ref), 1e-4);
      close(r.min, Math.min(...ref), 1e-4);
    }
  });

  it('firstNonFinite names the hook point where a NaN is injected, earlier ones stay finite', () => {
    const rep = healthRun(model, g.ids[0]!, {
      mode: 'finite',
      inject: { 'blocks.0.hook_resid_mid': (x) => tf.tidy(() => tf.add(x, tf.scatterND([[0, 2, 5]], [NaN], x.shape))) },
    });
    assert.deepEqual(rep.firstNonFinite, { hook: 'blocks.0.hook_resid_mid', layer: 0, nanCount: 1, infCount: 0 });
    const i = rep.rows.findIndex((r) => r.hook === 'blocks.0.hook_resid_mid');
    assert.ok(rep.rows.slice(0, i).every((r) => r.nanCount === 0));
    // LayerNorm spreads the NaN over the whole row of position 2 (32 channels)
    assert.equal(rep.rows[i + 1]!.hook, 'blocks.0.ln2.hook_normalized');
    assert.equal(rep.rows[i + 1]!.nanCount, 32);
  });

  it('an infinity injected into the values of a Llama layer is found there, with its sign counted', () => {
    const llama = loadModel(fixtureDir('llama-tiny'));
    const ids = golden('llama-tiny').ids[0]!;
    const rep = healthRun(llama, ids, {
      mode: 'full',
      inject: { 'blocks.1.attn.hook_v': (x) => tf.tidy(() => tf.add(x, tf.scatterND([[0, 1, 0, 3]], [-Infinity], x.shape))) },
    });
    assert.deepEqual(rep.firstNonFinite, { hook: 'blocks.1.attn.hook_v', layer: 1, nanCount: 0, infCount: 1 });
    const v = rep.rows.find((r) => r.hook === 'blocks.1.attn.hook_v')!;
    assert.equal(v.negInfCount, 1);
    llama.dispose();
  });

  it('fp16 overflow counts of a scaled activation match a direct count', () => {
    const name = 'blocks.1.hook_resid_post';
    const rep = healthRun(model, g.ids[0]!, { mode: 'full', hooks: [name], inject: { [name]: (x) => tf.mul(x, 20000) } });
    assert.equal(rep.rows.length, 1);
    const expected = g.hooks[name]!.data.filter((x) => Math.abs(Math.fround(x * 20000)) > 65504).length;
    assert.ok(expected > 0);
    assert.equal(rep.rows[0]!.fp16!.overflowCount, expected);
  });

  it('shape mode does not check finiteness and says so', () => {
    const rep = healthRun(model, g.ids[0]!, { mode: 'shape', inject: { hook_embed: (x) => tf.mul(x, NaN) } });
    assert.equal(rep.nonFiniteChecked, false);
    assert.equal(rep.firstNonFinite, null);
    assert.deepEqual(rep.rows[0]!.shape, g.hooks['hook_embed']!.shape);
  });
});
