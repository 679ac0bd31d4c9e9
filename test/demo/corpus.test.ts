// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Tests for the generated corpus: every text tokenizes into known words and round-trips through
 * Tokenizers.js, generation is deterministic per seed, held-out templates and IOI pairings never
 * reach the training texts, and behaviour counts follow the mix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  ALL_TEMPLATES, BEHAVIOURS, DEFAULT_MIX, IOI_NAMES, UNK_ID, behaviourQuotas, buildEvalSuites, buildTokenizerConfig,
  buildTokenizerJson, generateCorpus, ioiPairSplit, templateRegex, type Behaviour,
} from '../../src/demo/index.js';

const tok = new Tokenizer(buildTokenizerJson(), buildTokenizerConfig());
const N_TRAIN = 10_000;
const train = generateCorpus({ seed: 1, nExamples: N_TRAIN, split: 'train' });
const evalCorpus = generateCorpus({ seed: 1, nExamples: 2_000, split: 'eval' });
/** Library encodings (with BOS) of the training texts, computed once. */
const trainIds = train.map((e) => tok.encode(e.text).ids);

test('every train and eval text encodes without <unk>, round-trips exactly, and is short', () => {
  const all = [...train, ...evalCorpus];
  const allIds = [...trainIds, ...evalCorpus.map((e) => tok.encode(e.text).ids)];
  all.forEach((ex, i) => {
    const ids = allIds[i]!;
    assert.match(ex.text, /^[A-Za-z ,.]+$/);
    assert.ok(!ids.includes(UNK_ID), `<unk> in ${JSON.stringify(ex.text)}: ${tok.encode(ex.text).tokens.join(' ')}`);
    assert.ok(ids.length <= 48, `${ids.length} tokens: ${ex.text}`);
    assert.equal(tok.decode(ids, { skip_special_tokens: true }), ex.text);
    if (i % 10 === 0) assert.equal(tok.decode(tok.encode(ex.text, { add_special_tokens: false }).ids), ex.text);
  });
});

test('generation is deterministic per seed and differs across seeds and splits', () => {
  const a = generateCorpus({ seed: 7, nExamples: 500, split: 'train' });
  const b = generateCorpus({ seed: 7, nExamples: 500, split: 'train' });
  const c = generateCorpus({ seed: 8, nExamples: 500, split: 'train' });
  const d = generateCorpus({ seed: 7, nExamples: 500, split: 'eval' });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((e) => e.text), c.map((e) => e.text));
  assert.notDeepEqual(a.map((e) => e.text), d.map((e) => e.text));
  assert.deepEqual(generateCorpus({ seed: 'x', nExamples: 50, split: 'train' }), generateCorpus({ seed: 'x', nExamples: 50, split: 'train' }));
});

test('held-out templates never appear in the training texts (literal regex check)', () => {
  const heldOut = ALL_TEMPLATES.filter((t) => t.split === 'eval');
  assert.ok(heldOut.length >= 8);
  for (const t of heldOut) {
    const re = templateRegex(t);
    const hit = train.find((e) => re.test(e.text));
    assert.equal(hit, undefined, `held-out template ${t.id} found in: ${hit?.text}`);
    assert.ok(evalCorpus.some((e) => re.test(e.text)), `held-out template ${t.id} unused in the eval split`);
  }
  for (const e of train) for (const id of e.templates) assert.ok(!id.includes('/eval/'), id);
});

test('held-out IOI name pairings never co-occur in a training text', () => {
  const { train: trainPairs, heldOut } = ioiPairSplit();
  assert.equal(trainPairs.length + heldOut.length, (IOI_NAMES.length * (IOI_NAMES.length - 1)) / 2);
  const held = new Set(heldOut.map(([a, b]) => `${a}|${b}`));
  const nameSet = new Set<string>(IOI_NAMES);
  for (const e of train) {
    const names = [...new Set(e.text.split(/[ ,.]+/).filter((w) => nameSet.has(w)))];
    for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) {
      const [a, b] = [names[i]!, names[j]!];
      assert.ok(!held.has(`${a}|${b}`) && !held.has(`${b}|${a}`), `held-out pair ${a}/${b} in: ${e.text}`);
    }
  }
  // Every name still occurs in training, with several partners.
  for (const n of IOI_NAMES) assert.ok(trainPairs.filter((p) => p.includes(n)).length >= 20, n);
});

test('behaviour counts match the mix exactly', () => {
  const counts = Object.fromEntries(BEHAVIOURS.map((b) => [b, train.filter((e) => e.behaviour === b).length])) as Record<Behaviour, number>;
  assert.deepEqual(counts, behaviourQuotas(N_TRAIN));
  for (const b of BEHAVIOURS) assert.ok(Math.abs(counts[b] - N_TRAIN * DEFAULT_MIX[b]) <= 1, b);
  assert.deepEqual(behaviourQuotas(7, { fact: 1, ioi: 1, induction: 0, agreement: 0, filler: 0 }), { fact: 4, ioi: 3, induction: 0, agreement: 0, filler: 0 });
  assert.equal(generateCorpus({ seed: 1, nExamples: 0, split: 'train' }).length, 0);
});

test('within behaviours, templates and facts are all covered', () => {
  const used = new Set(train.flatMap((e) => e.templates));
  for (const t of ALL_TEMPLATES.filter((x) => x.split === 'train')) assert.ok(used.has(t.id), `train template ${t.id} unused`);
  const suites = buildEvalSuites({ seed: 1 });
  for (const item of suites.fact) assert.ok(train.some((e) => e.text.includes(item.expected.trim())), item.expected);
});

test('induction texts repeat one run of distinct words 2-4 times, within 40 words', () => {
  const ind = train.filter((e) => e.behaviour === 'induction');
  const periods = new Set<number>();
  for (const e of ind) {
    const ids = trainIds[train.indexOf(e)]!.slice(1);
    // the period is the first repeat of the first token
    const L = ids.indexOf(ids[0]!, 1);
    assert.ok(L >= 2 && L <= 20, `run length ${L}`);
    periods.add(L);
    const reps = ids.length / L;
    assert.ok(Number.isInteger(reps) && reps >= 2 && reps <= 4 && ids.length <= 40, `${reps} copies of ${L}`);
    for (let k = 1; k < reps; k++) assert.deepEqual(ids.slice(k * L, (k + 1) * L), ids.slice(0, L));
    assert.equal(new Set(ids.slice(0, L)).size, L);
  }
  assert.ok(periods.has(2) && periods.has(20), 'short and long runs both occur');
});

test('every token of every eval prompt and answer occurs in the training corpus', () => {
  const seen = new Set<number>();
  for (const ids of trainIds) for (const id of ids) seen.add(id);
  const suites = buildEvalSuites({ seed: 1 });
  for (const item of [...suites.fact, ...suites.ioi, ...suites.agreement]) {
    for (const id of tok.encode(item.prompt + item.expected).ids) assert.ok(seen.has(id), `untrained token ${tok.decode([id])} in ${item.prompt}`);
  }
  for (const seq of suites.induction.sequences) for (const id of seq) assert.ok(seen.has(id), `untrained induction token ${id}`);
});
