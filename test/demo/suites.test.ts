// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Tests for the evaluation suites: single-token answers, held-out prompts (never literally in
 * the training corpus), balance and correctness per behaviour, the induction id sequences,
 * the JSONL format, and `buildDemoData` writing loadable files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  ANIMAL_SOUNDS, CAPITALS, DEMO_FILES, IOI_NAMES, NOUN_PAIRS, PEOPLE_JOBS, SPECIAL_TOKENS, UNK_ID, buildDemoData,
  buildEvalSuites, buildTokenizerConfig, buildTokenizerJson, generateCorpus, ioiPairSplit, writeSuiteJsonl,
} from '../../src/demo/index.js';

const tok = new Tokenizer(buildTokenizerJson(), buildTokenizerConfig());
const suites = buildEvalSuites({ seed: 3 });
const items = [...suites.fact, ...suites.ioi, ...suites.agreement];
const trainTexts = generateCorpus({ seed: 3, nExamples: 10_000, split: 'train' }).map((e) => e.text);

test('every expected answer is a single known token appended to the prompt tokens', () => {
  for (const it of items) {
    const ans = tok.encode(it.expected, { add_special_tokens: false }).ids;
    assert.equal(ans.length, 1, `${JSON.stringify(it.expected)} -> ${ans.length} tokens`);
    assert.notEqual(ans[0], UNK_ID);
    assert.ok(it.expected.startsWith(' '));
    const p = tok.encode(it.prompt).ids;
    assert.ok(!p.includes(UNK_ID), it.prompt);
    assert.deepEqual(tok.encode(it.prompt + it.expected).ids, [...p, ans[0]]);
  }
});

test('no prompt occurs literally in the training corpus', () => {
  for (const it of items) {
    const hit = trainTexts.find((t) => t.includes(it.prompt));
    assert.equal(hit, undefined, `prompt ${JSON.stringify(it.prompt)} in train text ${JSON.stringify(hit)}`);
  }
});

test('fact suite: every fact under every held-out template, with the right answer', () => {
  const facts = new Map<string, string>([...CAPITALS, ...PEOPLE_JOBS, ...ANIMAL_SOUNDS]);
  assert.equal(suites.fact.length, 2 * facts.size);
  for (const it of suites.fact) {
    const subject = [...facts.keys()].filter((k) => new RegExp(`\\b${k}\\b`).test(it.prompt));
    assert.equal(subject.length, 1, it.prompt);
    assert.equal(it.expected, ' ' + facts.get(subject[0]!));
  }
});

test('IOI suite: held-out pairs, answer is the non-repeated name, both orders balanced', () => {
  const held = new Set(ioiPairSplit().heldOut.map(([a, b]) => [a, b].sort().join('|')));
  let ioFirst = 0;
  assert.equal(suites.ioi.length, 200);
  for (const it of suites.ioi) {
    const words = it.prompt.split(/[ ,.]+/);
    const names = words.filter((w) => (IOI_NAMES as readonly string[]).includes(w));
    assert.equal(names.length, 3, it.prompt);
    const io = it.expected.trim();
    const s = names.find((n) => n !== io)!;
    assert.deepEqual(names.filter((n) => n === io).length, 1);
    assert.deepEqual(names.filter((n) => n === s).length, 2);
    assert.ok(held.has([io, s].sort().join('|')), `${io}/${s} is not a held-out pair`);
    if (names[0] === io) ioFirst++;
  }
  assert.equal(ioFirst, 100);
});

test('agreement suite: verb agrees with the head noun, distractor has the other number', () => {
  const singular = new Set(NOUN_PAIRS.map((p) => p[0]));
  const plural = new Set(NOUN_PAIRS.map((p) => p[1]));
  let nPlural = 0;
  for (const it of suites.agreement) {
    const nouns = it.prompt.split(' ').filter((w) => singular.has(w) || plural.has(w));
    assert.equal(nouns.length, 2, it.prompt);
    const [head, dist] = nouns as [string, string];
    assert.equal(it.expected, plural.has(head) ? ' are' : ' is');
    assert.notEqual(plural.has(head), plural.has(dist));
    if (plural.has(head)) nPlural++;
  }
  assert.equal(nPlural, suites.agreement.length / 2);
});

test('induction suite: r ++ r of distinct word ids, no specials', () => {
  const ind = suites.induction;
  assert.equal(ind.sequences.length, 100);
  for (const [i, seq] of ind.sequences.entries()) {
    assert.equal(seq.length, 2 * ind.seqLen);
    const r = seq.slice(0, ind.seqLen);
    assert.deepEqual(seq.slice(ind.seqLen), r);
    assert.equal(new Set(r).size, r.length);
    assert.ok(r.every((id) => id >= SPECIAL_TOKENS.length));
    assert.equal(tok.decode(r), ind.words[i]!.map((w) => ' ' + w).join(''));
  }
});

test('suites are deterministic per seed', () => {
  assert.deepEqual(buildEvalSuites({ seed: 3 }), suites);
  assert.notDeepEqual(buildEvalSuites({ seed: 4 }).ioi, suites.ioi);
});

test('writeSuiteJsonl writes one {prompt, expected, behaviour} object per line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmdbg-demo-'));
  try {
    const path = join(dir, 'suite.jsonl');
    writeSuiteJsonl(path, items);
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, items.length);
    lines.forEach((line, i) => {
      const obj = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(Object.keys(obj), ['prompt', 'expected', 'behaviour']);
      assert.deepEqual(obj, items[i]);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('buildDemoData returns everything and writes files the library can load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmdbg-demo-'));
  try {
    const data = buildDemoData({ seed: 5, nTrain: 300, outDir: dir });
    assert.equal(data.trainTexts.length, 300);
    assert.deepEqual(data.trainTexts, generateCorpus({ seed: 5, nExamples: 300, split: 'train' }).map((e) => e.text));
    for (const f of Object.values(DEMO_FILES)) assert.ok(existsSync(join(dir, f)), f);
    const loaded = new Tokenizer(
      JSON.parse(readFileSync(join(dir, DEMO_FILES.tokenizer), 'utf8')) as object,
      JSON.parse(readFileSync(join(dir, DEMO_FILES.tokenizerConfig), 'utf8')) as object,
    );
    const text = data.trainTexts[0]!;
    assert.equal(loaded.decode(loaded.encode(text).ids, { skip_special_tokens: true }), text);
    assert.deepEqual(readFileSync(join(dir, DEMO_FILES.train), 'utf8').split('\n').slice(0, -1), data.trainTexts);
    const n = readFileSync(join(dir, DEMO_FILES.suite), 'utf8').split('\n').length - 1;
    assert.equal(n, data.evalSuites.fact.length + data.evalSuites.ioi.length + data.evalSuites.agreement.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
