/**
 * Head statistics: closed forms on synthetic patterns (uniform, previous-token, induction), the
 * model's own numbers against scores computed from the PyTorch reference patterns, and heads
 * turned into previous-token / induction heads by an intervention ranking first.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { layerHeadScores, rankHeads } from '../../src/methods/attention/stats.js';
import { attentionPatterns, headStats, repeatedRandomTokens } from '../../src/methods/attention/heads.js';
import { compileIntervention } from '../../src/methods/interventions/apply.js';
import { validateSpec } from '../../src/methods/interventions/spec.js';

before(async () => {
  await useTestBackend();
});

const close = (a: number | null, b: number, msg: string) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${msg}: ${a} vs ${b}`);

describe('head scores on synthetic patterns', () => {
  const T = 6;
  const ids = [10, 11, 12, 13, 14, 15];
  const build = (f: (q: number, k: number) => number) => {
    const p = new Float64Array(T * T);
    for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) p[q * T + k] = f(q, k);
    return p;
  };
  it('uniform causal attention', () => {
    const [s] = layerHeadScores(build((q) => 1 / (q + 1)), ids, 1);
    let ent = 0, mx = 0;
    for (let q = 1; q < T; q++) { ent += Math.log(q + 1); mx += 1 / (q + 1); }
    close(s!.entropy, ent / (T - 1), 'entropy');
    close(s!.maxWeight, mx / (T - 1), 'max');
    close(s!.firstToken, mx / (T - 1), 'first');
    close(s!.prevToken, mx / (T - 1), 'prev');
    assert.equal(s!.duplicate, null);
    assert.equal(s!.induction, null);
  });
  it('previous-token attention', () => {
    const [s] = layerHeadScores(build((q, k) => (q === 0 ? 1 : k === q - 1 ? 1 : 0)), ids, 1);
    close(s!.prevToken, 1, 'prev');
    close(s!.entropy, 0, 'entropy');
    close(s!.maxWeight, 1, 'max');
    close(s!.firstToken, 1 / (T - 1), 'first');
  });
  it('induction and duplicate attention on a repeated sequence', () => {
    const rep = [7, 8, 9, 7, 8, 9];
    const n = 3;
    const ind = layerHeadScores(build((q, k) => (q >= n ? (k === q - n + 1 ? 1 : 0) : k === 0 ? 1 : 0)), rep, 1)[0]!;
    close(ind.induction, 1, 'induction');
    close(ind.duplicate, 0, 'duplicate of an induction head');
    const dup = layerHeadScores(build((q, k) => (q >= n ? (k === q - n ? 1 : 0) : k === 0 ? 1 : 0)), rep, 1)[0]!;
    close(dup.duplicate, 1, 'duplicate');
    close(dup.induction, 0, 'induction of a duplicate head');
  });
  it('ranks heads highest first, leaving out undefined scores', () => {
    const s = [[{ entropy: 1, maxWeight: 0.5, firstToken: 0.2, prevToken: 0.3, duplicate: null, induction: null }, { entropy: 2, maxWeight: 0.4, firstToken: 0.1, prevToken: 0.9, duplicate: 0.5, induction: null }]];
    assert.deepEqual(rankHeads(s, 'prevToken').map((r) => r.head), [1, 0]);
    assert.deepEqual(rankHeads(s, 'duplicate').map((r) => r.head), [1]);
  });
});

describe('head statistics on a model', () => {
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('gpt2-tiny'));
  });

  it('scores equal the scores of the reference patterns', async () => {
    const g = golden('gpt2-tiny');
    const ids = g.ids[0]!;
    const r = await headStats(model, ids);
    const H = model.config.nHeads;
    for (let l = 0; l < model.config.nLayers; l++) {
      const ref = layerHeadScores(g.hooks[`blocks.${l}.attn.hook_pattern`]!.data, ids, H);
      for (let h = 0; h < H; h++) {
        const row = r.heads.find((x) => x.layer === l && x.head === h)!;
        for (const k of ['entropy', 'maxWeight', 'firstToken', 'prevToken'] as const) assert.ok(Math.abs(row[k]! - ref[h]![k]!) < 1e-5, `L${l}H${h} ${k}`);
      }
    }
    assert.equal(r.rankings['entropy']!.length, model.config.nLayers * H);
    assert.equal(r.repeated.length, 15);
  });

  it('a head edited into a previous-token head and one into an induction head rank first', async () => {
    const rows = repeatedRandomTokens(model, { seed: 3, length: 6, batch: 2 });
    const T = rows[0]!.length; // bos + 6 + 6
    const n = 6;
    const edits: unknown[] = [];
    for (let q = 1; q < T; q++) {
      edits.push({ hook: 'pattern', layers: [1], heads: [2], positions: [q], op: 'set', value: 0 });
      edits.push({ hook: 'pattern', layers: [1], heads: [2], positions: [q], keys: [q - 1], op: 'set', value: 1 });
      if (q > n) {
        edits.push({ hook: 'pattern', layers: [0], heads: [3], positions: [q], op: 'set', value: 0 });
        edits.push({ hook: 'pattern', layers: [0], heads: [3], positions: [q], keys: [q - n + 1], op: 'set', value: 1 });
      }
    }
    const iv = await compileIntervention(model, validateSpec({ edits }, model.config), T);
    try {
      const pats = await attentionPatterns(model, rows[0]!, { hooks: iv.hooks });
      assert.equal(pats.layers[1]![(2 * T + 4) * T + 3], 1);
      const r = await headStats(model, rows[0]!, { hooks: iv.hooks, seed: 3, repLength: 6, repBatch: 2 });
      const top = r.rankings['rep.prevToken']![0]!;
      assert.deepEqual([top.layer, top.head], [1, 2]);
      assert.ok(Math.abs(top.value - 1) < 1e-6);
      const ind = r.rankings['rep.induction']![0]!;
      assert.deepEqual([ind.layer, ind.head], [0, 3]);
      assert.ok(Math.abs(ind.value - 1) < 1e-6, `induction ${ind.value}`);
    } finally {
      iv.dispose();
    }
  });
});
