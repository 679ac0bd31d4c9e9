// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Batches and datasets: packing reads every stream token once as a target with the right mask,
 * padding keeps one example per row, epochs reshuffle deterministically from the seed, and a
 * source restored from `getState()` continues the identical stream. Dataset files: text and JSONL
 * forms, bad lines reported with line numbers, prompt tokens masked out.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExampleSource, batchFromRows, FixedBatchSource } from '../../src/train/data.js';
import { badLinesError, parseDataset, toExamples } from '../../src/train/dataset-file.js';
import { LlmdbgError } from '../../src/errors.js';

const examples = Array.from({ length: 7 }, (_, i) => ({ ids: Array.from({ length: 3 + (i % 4) }, (_, j) => 100 * (i + 1) + j) }));

describe('ExampleSource', () => {
  it('pack: one epoch read as a stream; each token after the first is a target exactly once, example starts have mask 0', () => {
    const src = new ExampleSource(examples, { seed: 5 });
    const total = examples.reduce((a, e) => a + e.ids.length, 0); // 31 tokens
    const T = 4;
    const rows = Math.floor((total - 1) / T); // stays inside the first epoch
    const b = src.next(rows, T);
    const targets = Array.from(b.targets);
    const stream = [b.ids[0]!, ...targets];
    // the stream is a permutation of whole examples, in order
    const firsts = examples.map((e) => e.ids[0]!);
    let i = 0;
    const seen = new Set<number>();
    while (i < stream.length) {
      const ex = examples.find((e) => e.ids[0] === stream[i])!;
      assert.ok(ex, `token ${stream[i]} at ${i} starts an example`);
      const part = stream.slice(i, i + ex.ids.length);
      assert.deepEqual(part, ex.ids.slice(0, part.length));
      seen.add(ex.ids[0]!);
      i += ex.ids.length;
    }
    // inputs are the stream shifted by one; masks are 0 exactly on example starts
    for (let r = 0; r < rows; r++) for (let t = 0; t < T; t++) assert.equal(b.ids[r * T + t], stream[r * T + t]);
    targets.forEach((tok, k) => assert.equal(b.mask[k], firsts.includes(tok) ? 0 : 1, `mask of target ${tok}`));
    assert.equal(b.count, targets.filter((t) => !firsts.includes(t)).length);
    assert.ok(seen.size >= 5);
  });

  it('pad: one example per row, truncated or padded (mask 0 on padding), order reshuffled per epoch', () => {
    const src = new ExampleSource(examples, { seed: 1, mode: 'pad', padId: 9 });
    const b = src.next(7, 4);
    const rows = Array.from({ length: 7 }, (_, r) => Array.from(b.ids.slice(r * 4, r * 4 + 4)));
    const order1 = rows.map((r) => r[0]);
    assert.deepEqual([...order1].sort(), examples.map((e) => e.ids[0]).sort(), 'each example once per epoch');
    for (let r = 0; r < 7; r++) {
      const ex = examples.find((e) => e.ids[0] === rows[r]![0])!.ids;
      const n = Math.min(ex.length, 5);
      for (let t = 0; t < 4; t++) {
        const k = r * 4 + t;
        assert.equal(b.ids[k], t < Math.min(ex.length, 4) ? ex[t] : 9);
        assert.equal(b.mask[k], t < n - 1 ? 1 : 0);
        if (t < n - 1) assert.equal(b.targets[k], ex[t + 1]);
      }
    }
    const order2 = Array.from({ length: 7 }, () => src.next(1, 4).ids[0]);
    assert.notDeepEqual(order2, order1, 'epoch 2 has another order');
    assert.deepEqual([...order2].sort(), [...order1].sort());
  });

  it('deterministic in the seed, and getState/setState resumes the identical stream', () => {
    for (const mode of ['pack', 'pad'] as const) {
      const a = new ExampleSource(examples, { seed: 42, mode });
      const b = new ExampleSource(examples, { seed: 42, mode });
      const c = new ExampleSource(examples, { seed: 43, mode });
      for (let i = 0; i < 5; i++) a.next(3, 5);
      const state = JSON.parse(JSON.stringify(a.getState()));
      const fromA = Array.from({ length: 6 }, () => a.next(3, 5));
      b.setState(state);
      const fromB = Array.from({ length: 6 }, () => b.next(3, 5));
      assert.deepEqual(fromB, fromA, `${mode}: restored stream`);
      const c0 = c.next(3, 5);
      const a0 = new ExampleSource(examples, { seed: 42, mode }).next(3, 5);
      assert.notDeepEqual(Array.from(c0.ids), Array.from(a0.ids), `${mode}: another seed, another order`);
    }
    assert.throws(() => new ExampleSource(examples, { seed: 1 }).setState({ epoch: 0, index: 99, offset: 0 }), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_checkpoint');
  });

  it('loss masks pass through (prompt tokens are not targets); degenerate datasets are refused', () => {
    const src = new ExampleSource([{ ids: [1, 2, 3, 4], lossMask: [0, 0, 1, 1] }], { seed: 0, mode: 'pad' });
    const b = src.next(1, 3);
    assert.deepEqual(Array.from(b.mask), [0, 1, 1]);
    assert.deepEqual(Array.from(b.targets), [2, 3, 4]);
    assert.throws(() => new ExampleSource([], { seed: 0 }), /no training examples/);
    assert.throws(() => new ExampleSource([{ ids: [5] }], { seed: 0 }), /at least 2/);
    assert.throws(() => new ExampleSource([{ ids: [1, 2], lossMask: [1, 0] }], { seed: 0 }), /no example has a token to train on/);
  });

  it('FixedBatchSource repeats its batch and checks the requested shape', () => {
    const f = new FixedBatchSource(batchFromRows([[1, 2]], [[2, 3]], [[1, 0]]));
    assert.equal(f.next(1, 2).count, 1);
    assert.throws(() => f.next(2, 2), /fixed batch/);
  });
});

describe('dataset files', () => {
  it('JSONL: text, prompt/completion and ids lines; bad lines with 1-based line numbers', () => {
    const content = ['{"text": "hello world"}', '', '{"prompt": "Q:", "completion": " A"}', '{"text": 5}', 'not json', '{"ids": [1, 2, 3]}', '{"prompt": "x"}', '{"other": 1}', '{"text": "  "}', '[1]'].join('\n');
    const d = parseDataset(content, 'data.jsonl');
    assert.equal(d.format, 'jsonl');
    assert.deepEqual(d.records.map((r) => [r.line, r.kind]), [[1, 'text'], [3, 'pair'], [6, 'ids']]);
    assert.deepEqual(d.bad.map((b) => b.line), [4, 5, 7, 8, 9, 10]);
    assert.match(d.bad[1]!.reason, /not valid JSON/);
    const e = badLinesError('data.jsonl', d.bad);
    assert.equal(e.code, 'invalid_dataset');
    assert.match(e.oneLine(), /6 bad line\(s\): line 4: "text" must be a string; line 5: not valid JSON/);
    assert.ok(!e.oneLine().includes('\n'));
  });

  it('text: one example per non-empty line (BOM and CRLF tolerated)', () => {
    const d = parseDataset('\uFEFFfirst line\r\n\r\nsecond line\n', 'corpus.txt');
    assert.deepEqual(d.records.map((r) => r.kind === 'text' && [r.line, r.text]), [[1, 'first line'], [3, 'second line']]);
    assert.equal(d.bad.length, 0);
  });

  it('tokenizing: BOS from the tokenizer, EOS appended, completion-only loss, out-of-vocabulary ids refused', () => {
    const tok = { encode: (s: string, o?: { addSpecialTokens?: boolean }) => [...(o?.addSpecialTokens === false ? [] : [1]), ...[...s].map((ch) => ch.charCodeAt(0) % 50 + 3)] };
    const recs = parseDataset(['{"text": "ab"}', '{"prompt": "q", "completion": "rs"}', '{"ids": [4, 99]}', '{"ids": [4, 5]}'].join('\n'), 'x.jsonl').records;
    const { examples: ex, bad } = toExamples(recs, tok, { eosId: 2, vocabSize: 60 });
    assert.deepEqual(ex[0], { ids: [1, 50, 51, 2] });
    assert.deepEqual(ex[1], { ids: [1, 16, 17, 18, 2], lossMask: [0, 0, 1, 1, 1] });
    assert.deepEqual(ex[2], { ids: [4, 5] });
    assert.deepEqual(bad, [{ line: 3, reason: 'token id 99 is outside the vocabulary [0, 60)' }]);
    const noTok = toExamples(recs, null, { eosId: null, vocabSize: 200 });
    assert.deepEqual(noTok.bad.map((b) => b.line), [1, 2]);
    assert.equal(noTok.examples.length, 2);
  });
});

describe('weighted loss masks', () => {
  it('weights pass through to the batch mask and its count; the fingerprint of 0/1 masks is unchanged', () => {
    const plain = new ExampleSource([{ ids: [5, 6, 7, 8] }], { seed: 1, mode: 'pad' });
    const ones = new ExampleSource([{ ids: [5, 6, 7, 8], lossMask: [0, 1, 1, 1] }], { seed: 1, mode: 'pad' });
    assert.equal(plain.describe()['fingerprint'], ones.describe()['fingerprint']);
    const src = new ExampleSource([{ ids: [5, 6, 7, 8], lossMask: [0, 0, 1, 4] }], { seed: 1, mode: 'pad' });
    assert.notEqual(src.describe()['fingerprint'], ones.describe()['fingerprint']);
    const b = src.next(1, 3);
    assert.deepEqual(Array.from(b.mask), [0, 1, 4]); // targets 6, 7, 8
    assert.equal(b.count, 5);
  });
  it('negative or non-finite weights are refused with the example and position', () => {
    for (const w of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new ExampleSource([{ ids: [1, 2, 3], lossMask: [0, 1, w] }], { seed: 1 }), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_dataset' && /lossMask\[2\]/.test(e.message));
    }
  });
});
