/**
 * Activation patching and causal tracing against the PyTorch reference (golden.json `patching`
 * and tools/make_patching_fixtures.py): residual, attention-output, MLP-output and per-head
 * patching, causal tracing with given noise; plus the invariants: identical prompts change
 * nothing, restoring everything gives the clean run, KV-prefix reuse and batching change nothing.
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
import { activationPatching, sourceCache } from '../../src/methods/patching/activation.js';
import { runPatches } from '../../src/methods/patching/engine.js';
import { causalTrace } from '../../src/methods/patching/causal-trace.js';
import { lastLogits } from '../../src/methods/interventions/compare.js';

const fx = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'patching', `${name}.json`), 'utf8'));
const TOL = { atol: 2e-4, rtol: 2e-4 };

before(async () => {
  await useTestBackend();
});

/** Flattens per-cell logits [rows][cols][V] in row-major order. */
function flat(cells: Float32Array[][]): number[] {
  const out: number[] = [];
  for (const row of cells) for (const c of row) out.push(...c);
  return out;
}

for (const name of ['gpt2-tiny', 'llama-tiny']) {
  describe(`patching: ${name}`, () => {
    const g = golden(name).patching!;
    const f = fx(name);
    const clean: number[] = g.clean_ids[0]!;
    const corrupt: number[] = g.corrupt_ids[0]!;
    let model: Model;
    before(() => {
      model = loadModel(fixtureDir(name));
    });

    it('residual patching per layer and position matches the reference, with and without reuse', async () => {
      const n0 = tf.memory().numTensors;
      const a = await activationPatching(model, clean, corrupt, { kind: 'resid_pre', keepLogits: true });
      assertClose('resid_pre sweep', flat(a.logits!), g.resid_pre_patch_last_logits.data, TOL);
      const b = await activationPatching(model, clean, corrupt, { kind: 'resid_pre', keepLogits: true, reuse: false, maxBatch: 1 });
      assertClose('no reuse, batch 1', flat(b.logits!), flat(a.logits!), { atol: 5e-5, rtol: 5e-5 });
      assert.ok(a.info.positionsComputed < b.info.positionsComputed, 'reuse computes fewer positions');
      // the metric: patching the last layer at a changed position restores that position's logit difference partly or fully
      assert.equal(a.metric.target.id, argmax(g.clean_last_logits.data));
      assert.ok(Math.abs(a.metric.clean - a.metric.corrupt) > 0.1);
      // layer 0: positions with the same token recover nothing; a lone changed position recovers everything
      const changed = clean.map((t, p) => (t !== corrupt[p] ? p : -1)).filter((p) => p >= 0);
      clean.forEach((t, p) => {
        if (t === corrupt[p]) assert.ok(Math.abs(a.recovered[0]![p]!) < 1e-4, `L0 pos ${p}`);
      });
      if (changed.length === 1) assert.ok(Math.abs(a.recovered[0]![changed[0]!]! - 1) < 1e-4);
      else assert.ok(changed.every((p) => Math.abs(a.recovered[0]![p]! - 1) > 1e-3), 'one of several changed positions alone does not restore all');
      assert.equal(tf.memory().numTensors, n0, 'no leaked tensors');
    });

    it('per-head (all positions and one position), MLP and attention-output patching match the reference', async () => {
      const h = await activationPatching(model, clean, corrupt, { kind: 'head', keepLogits: true, maxBatch: 3 });
      assertClose('head patch', flat(h.logits!), f.head_patch_last_logits.data, TOL);
      const hp = f.head_pos_patch;
      const one = await activationPatching(model, clean, corrupt, { kind: 'head_pos', layers: [hp.layer], positions: [hp.pos], keepLogits: true });
      assertClose('head/pos patch', one.logits![hp.head]![0]!, hp.last_logits.data, TOL);
      const m = await activationPatching(model, clean, corrupt, { kind: 'mlp_out', keepLogits: true });
      assertClose('mlp_out sweep', flat(m.logits!), f.mlp_patch_last_logits.data, TOL);
      const at = await activationPatching(model, clean, corrupt, { kind: 'attn_out', keepLogits: true, maxBatch: 5 });
      assertClose('attn_out sweep', flat(at.logits!), f.attn_out_patch_last_logits.data, TOL);
    });

    it('identical clean and corrupted prompts change nothing', async () => {
      const r = await activationPatching(model, clean, clean, { kind: 'resid_pre', keepLogits: true });
      const base = await lastLogits(model, clean);
      for (const row of r.logits!) for (const l of row) assertClose('patched == unpatched', l, base, { atol: 2e-5, rtol: 2e-5 });
      for (const row of r.recovered) for (const v of row) assert.equal(v, null);
      for (const row of r.values) for (const v of row) assert.ok(Math.abs(v - r.metric.clean) < 1e-4);
    });

    it('restoring every position at any layer gives the clean run', async () => {
      const site = 'hook_resid_pre';
      const src = sourceCache(model, clean, site);
      try {
        const jobs = Array.from({ length: model.config.nLayers }, (_, l) => ({ layer: l, pos: null, head: null }));
        const out = await runPatches(model, { site, source: src.cache, target: { ids: corrupt }, jobs });
        const cl = (await src.logits.data()) as Float32Array;
        for (const l of out.logits) assertClose('restored == clean', l, cl, { atol: 5e-5, rtol: 5e-5 });
        assertClose('target = corrupted run', out.targetLogits, g.corrupt_last_logits.data, TOL);
      } finally {
        src.logits.dispose();
        for (const t of Object.values(src.cache)) t.dispose();
      }
    });

    it('causal tracing with given noise matches the reference', async () => {
      const ct = f.causal_trace;
      const r = await causalTrace(model, clean, { noisePositions: ct.positions, noise: [Float32Array.from(ct.noise.data)], keepLogits: true, maxBatch: 4 });
      assertClose('restored logits', flat(r.logits![0]!), ct.restore_resid_pre_last_logits.data, TOL);
      assert.equal(r.info.samples, 1);
      assert.ok(r.clean > r.noisy, `noise lowers the target probability (${r.clean} vs ${r.noisy})`);
    });

    it('seeded causal tracing is reproducible, and restoring the only noised state recovers all', async () => {
      const a = await causalTrace(model, clean, { noisePositions: [1], seed: 7, samples: 2 });
      const b = await causalTrace(model, clean, { noisePositions: [1], seed: 7, samples: 2 });
      const c = await causalTrace(model, clean, { noisePositions: [1], seed: 8, samples: 2 });
      assert.deepEqual(a.values, b.values);
      assert.notDeepEqual(a.values, c.values);
      assert.ok(Math.abs(a.values[0]![1]! - a.clean) < 1e-5, 'layer 0 at the noised position = clean');
      assert.ok(Math.abs(a.values[0]![0]! - a.noisy) < 1e-5, 'layer 0 before the noised position = noisy');
      assert.ok(a.info.noiseScale! > 0);
    });
  });
}

function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[b]!) b = i;
  return b;
}

describe('patching inputs', () => {
  it('refuses prompts of different lengths', async () => {
    const model = loadModel(fixtureDir('gpt2-tiny'));
    await assert.rejects(activationPatching(model, [1, 2, 3], [1, 2], { kind: 'resid_pre' }), (e: unknown) => e instanceof LlmdbgError && e.code === 'prompt_length_mismatch' && /3 tokens but the corrupted one has 2/.test(e.message));
    await assert.rejects(causalTrace(model, [1, 2, 3], { noisePositions: [3] }), /noise position 3 is outside \[0, 3\)/);
  });
});
