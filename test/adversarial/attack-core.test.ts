/**
 * Numerics of the attack library against independent references: the goal gradient against the
 * PyTorch fixtures' saliency gradient, the HotFlip first-order estimate against that gradient and
 * against finite differences, batched candidate scores against one-by-one runs and against full
 * logits, smallest-k selection, and the vocabulary filter on a hand-built tokenizer.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, Model } from '../../src/model/model.js';
import { gpt2TokenizerJson, tokenizerFromJson } from '../../src/formats/tokenizer.js';
import { GoalScorer, allowedVocab, flipEstimates, isPrintable, smallestK, type ResolvedGoal } from '../../src/methods/adversarial/index.js';
import { LlmdbgError } from '../../src/errors.js';

before(async () => {
  await useTestBackend();
});

/** float64 log-softmax of one row. */
function logSoftmax(row: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]!);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  const lse = m + Math.log(s);
  return Array.from(row, (x) => x - lse);
}

function argmax(row: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[b]!) b = i;
  return b;
}

/** Goal loss and success from FULL logits of model.run (a path independent of the scorer's). */
async function reference(model: Model, rows: number[][], goal: ResolvedGoal): Promise<{ loss: number; success: boolean }[]> {
  const V = model.config.vocabSize;
  const inputs = rows.map((r) => (goal.kind === 'targeted' ? [...r, ...goal.target.slice(0, -1)] : r));
  const out = model.run(inputs);
  const data = (await out.logits!.data()) as Float32Array;
  out.logits!.dispose();
  const T = inputs[0]!.length;
  return rows.map((r, b) => {
    const row = (t: number) => data.subarray((b * T + t) * V, (b * T + t + 1) * V);
    if (goal.kind === 'untargeted') {
      const l = row(r.length - 1);
      return { loss: logSoftmax(l)[goal.answer]!, success: argmax(l) !== goal.answer };
    }
    let s = 0;
    let ok = true;
    goal.target.forEach((id, i) => {
      const l = row(r.length - 1 + i);
      s += logSoftmax(l)[id]!;
      if (argmax(l) !== id) ok = false;
    });
    return { loss: -s, success: ok };
  });
}

for (const name of ['llama-tiny', 'gpt2-tiny']) {
  describe(`attack numerics: ${name}`, () => {
    let model: Model;
    const g = golden(name);
    const ids = g.ids[0]!;
    before(() => {
      model = loadModel(fixtureDir(name));
    });

    it('the untargeted goal gradient equals the PyTorch saliency gradient', async () => {
      const scorer = new GoalScorer(model, { kind: 'untargeted', answer: g.saliency.target_id }, 1024);
      const { loss, grad } = await scorer.lossAndGrad(ids);
      assert.ok(Math.abs(loss - g.saliency.logprob) < 1e-4, `loss ${loss} vs ${g.saliency.logprob}`);
      assertClose('grad_embed', grad, g.saliency.grad_embed.data, { atol: 1e-5, rtol: 1e-3 });
    });

    it('hotflip estimates equal (E[v] - E[x_t]) . g_t from the PyTorch gradient', async () => {
      const C = model.config.dModel;
      const V = model.config.vocabSize;
      const E = model.params.wte.dataSync();
      const gref = g.saliency.grad_embed.data;
      const scorer = new GoalScorer(model, { kind: 'untargeted', answer: g.saliency.target_id }, 1024);
      const { grad } = await scorer.lossAndGrad(ids);
      const positions = [0, 2, ids.length - 1];
      const est = await flipEstimates(model, grad, ids, positions);
      const want: number[] = [];
      for (const t of positions) {
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let c = 0; c < C; c++) s += (E[v * C + c]! - E[ids[t]! * C + c]!) * gref[t * C + c]!;
          want.push(s);
        }
      }
      assertClose('estimates', est, want, { atol: 1e-5, rtol: 1e-3 });
      // the estimate of "swapping" a token for itself is exactly zero
      positions.forEach((t, p) => assert.equal(est[p * V + ids[t]!], 0));
    });

    it('hotflip estimates match finite differences of the exact loss along E[v] - E[x_t]', async () => {
      const C = model.config.dModel;
      const V = model.config.vocabSize;
      const target = { kind: 'targeted' as const, target: [g.saliency.target_id, 3] };
      const scorer = new GoalScorer(model, target, 1024);
      const { grad } = await scorer.lossAndGrad(ids);
      const t = 1;
      const est = await flipEstimates(model, grad, ids, [t]);
      const E = model.params.wte.dataSync();
      const full = [...ids, ...target.target.slice(0, -1)];
      const base = Float32Array.from(full.flatMap((id) => Array.from(E.subarray(id * C, (id + 1) * C))));
      const lossAt = async (v: number, eps: number): Promise<number> => {
        const x = base.slice();
        for (let c = 0; c < C; c++) x[t * C + c] = x[t * C + c]! + eps * (E[v * C + c]! - E[ids[t]! * C + c]!);
        const logits = tf.tidy(() => model.forward({ embeds: tf.tensor3d(x, [1, full.length, C]) }).logits!);
        const d = (await logits.data()) as Float32Array;
        logits.dispose();
        let s = 0;
        target.target.forEach((id, i) => (s += logSoftmax(d.subarray((ids.length - 1 + i) * V, (ids.length + i) * V))[id]!));
        return -s;
      };
      for (const v of [4, 17, 33, V - 5]) {
        const eps = 2e-3;
        const fd = ((await lossAt(v, eps)) - (await lossAt(v, -eps))) / (2 * eps);
        assert.ok(Math.abs(fd - est[v]!) <= 2e-3 + 2e-2 * Math.abs(fd), `v=${v}: estimate ${est[v]} vs finite difference ${fd}`);
      }
    });

    it('batched candidate scores equal one-by-one scores (1e-5) and full-logit references', async () => {
      const V = model.config.vocabSize;
      for (const goal of [{ kind: 'untargeted', answer: g.saliency.target_id }, { kind: 'targeted', target: [5, 9, 11] }] as ResolvedGoal[]) {
        const scorer = new GoalScorer(model, goal, 1024);
        const rows = Array.from({ length: 12 }, (_, i) => ids.map((x, j) => (j === 1 + (i % (ids.length - 1)) ? (x + 7 * i + 1) % V : x)));
        const batched = await scorer.evaluate(rows);
        for (let i = 0; i < rows.length; i++) {
          const one = (await scorer.evaluate([rows[i]!]))[0]!;
          assert.ok(Math.abs(one.loss - batched[i]!.loss) <= 1e-5 * Math.max(1, Math.abs(one.loss)), `row ${i}: ${one.loss} vs ${batched[i]!.loss}`);
          assert.equal(one.success, batched[i]!.success);
        }
        // a tiny memory budget splits the batch into chunks without changing anything
        const chunked = await new GoalScorer(model, goal, 0.01).evaluate(rows);
        chunked.forEach((c, i) => assert.ok(Math.abs(c.loss - batched[i]!.loss) <= 1e-5 * Math.max(1, Math.abs(c.loss))));
        const ref = await reference(model, rows, goal);
        ref.forEach((r, i) => {
          assert.ok(Math.abs(r.loss - batched[i]!.loss) <= 1e-4 * Math.max(1, Math.abs(r.loss)), `row ${i}: reference ${r.loss} vs ${batched[i]!.loss}`);
          assert.equal(batched[i]!.success, r.success, `row ${i} success`);
          assert.ok(Math.abs(batched[i]!.prob - Math.exp(goal.kind === 'targeted' ? -r.loss : r.loss)) < 1e-5);
        });
      }
    });
  });
}

describe('smallestK', () => {
  it('returns the k smallest finite accepted values, ties by index, as a full sort would', () => {
    const vals = [5, 1, Number.NaN, 1, -2, Infinity, 3, -2, 0, 7];
    assert.deepEqual(smallestK(vals, 4), [4, 7, 8, 1]);
    assert.deepEqual(smallestK(vals, 3, (i) => i !== 4), [7, 8, 1]);
    assert.deepEqual(smallestK(vals, 100), [4, 7, 8, 1, 3, 6, 0, 9]);
    assert.deepEqual(smallestK(vals, 0), []);
    // random values, both code paths (insertion for small k, sort for large k) against a plain sort
    let x = 12345;
    const rnd = Float32Array.from({ length: 5000 }, () => ((x = (x * 1103515245 + 12345) % 2147483648) % 1000) / 10);
    const sorted = [...rnd.keys()].sort((a, b) => rnd[a]! - rnd[b]! || a - b);
    for (const k of [1, 7, 64, 65, 300]) assert.deepEqual(smallestK(rnd, k), sorted.slice(0, k));
  });
});

describe('vocabulary filter', () => {
  let base: Model;
  before(() => {
    base = loadModel(fixtureDir('llama-tiny')); // bos 1, eos 2, V 64
  });

  /** A byte-level BPE over 64 ids: config specials 1 and 2, a tokenizer special at 5, unprintables at 6..9. */
  function withTokenizer(): Model {
    const vocab: Record<string, number> = { A: 0, '<s>': 1, '</s>': 2, B: 3, C: 4, '<|endoftext|>': 5, 'Ċ': 6, 'ĉ': 7, 'Ã': 8, 'Ā': 9 };
    const letters = 'abcdefghijklmnopqrstuvwxyzDEFGHIJKLMNOPQRSTUVWXYZ0123456789!?';
    for (let id = 10, i = 0; id < 64; id++, i++) vocab[letters[i]!] = id;
    const tok = tokenizerFromJson(gpt2TokenizerJson(vocab, ''));
    return new Model(base.config, base.params, tok, base.source);
  }

  it('excludes config and tokenizer special tokens and unprintable pieces by default', () => {
    const m = withTokenizer();
    const v = allowedVocab(m);
    const banned = [1, 2, 5, 6, 7, 8, 9];
    assert.deepEqual(v.ids, [...Array(64).keys()].filter((i) => !banned.includes(i)));
    assert.equal(v.summary.specialExcluded, 3);
    assert.equal(v.summary.unprintableExcluded, 4);
    assert.equal(v.summary.printableApplied, true);
    // printable off keeps the unprintables; allowSpecial keeps the specials
    assert.deepEqual(allowedVocab(m, { printableOnly: false }).ids.filter((i) => i < 10), [0, 3, 4, 6, 7, 8, 9]);
    assert.deepEqual(allowedVocab(m, { allowSpecial: true }).ids.filter((i) => i < 10), [0, 1, 2, 3, 4, 5]);
    // allow and deny lists
    assert.deepEqual(allowedVocab(m, { allow: [0, 1, 3, 6, 20], deny: [20] }).ids, [0, 3]);
  });

  it('printable means non-empty, no control characters, no replacement character', () => {
    assert.ok(isPrintable(' Paris'));
    assert.ok(isPrintable('é∑'));
    for (const s of ['', '\n', 'a\tb', '\u0000', 'x\uFFFD', '\u007F']) assert.ok(!isPrintable(s), JSON.stringify(s));
  });

  it('without a tokenizer allows every non-special id and says the printable filter did not apply', () => {
    const v = allowedVocab(base);
    assert.deepEqual(v.ids, [...Array(64).keys()].filter((i) => i !== 1 && i !== 2));
    assert.equal(v.summary.printableApplied, false);
    assert.match(v.summary.note ?? '', /no tokenizer/);
  });

  it('an empty result is empty_vocabulary naming the filter', () => {
    const m = withTokenizer();
    const fails = (f: Parameters<typeof allowedVocab>[1], re: RegExp) =>
      assert.throws(() => allowedVocab(m, f), (e: unknown) => e instanceof LlmdbgError && e.code === 'empty_vocabulary' && re.test(e.message));
    fails({ allow: [1, 2, 6] }, /allow list/);
    fails({ deny: [...Array(64).keys()] }, /deny list/);
    assert.throws(() => allowedVocab(m, { allow: [64] }), (e: unknown) => e instanceof LlmdbgError && e.code === 'token_out_of_range');
  });
});
