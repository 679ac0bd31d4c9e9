// test-backends: once
/**
 * Hardening data: both line formats parse, bad lines carry their line numbers, suite induction
 * lines are skipped; tokenization matches the eval suite's; the held-out split and the training
 * mix are seeded and disjoint; the demo's hardening set comes from the TRAINING split only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useTestBackend } from '../helpers/backend.js';
import { ROOT } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { parseHardenData, splitHeldOut, tokenizeHardenData, type HardenItem } from '../../src/train/adversarial/data.js';
import { mixExamples, randomAdvExamples, withAdvTokens } from '../../src/train/adversarial/mix.js';
import { buildHardenData, hardenFacts } from '../../src/demo/harden-data.js';
import { AGREEMENT_TEMPLATES, FACT_TEMPLATES, IOI_TEMPLATES, templateRegex, type Template } from '../../src/demo/templates.js';
import { buildEvalSuites } from '../../src/demo/suites.js';
import { ioiPairs } from '../../src/demo/sentences.js';
import { CAPITALS, PEOPLE_JOBS, ANIMAL_SOUNDS } from '../../src/demo/world.js';

let demo: Model;
before(async () => {
  await useTestBackend();
  demo = loadModel(join(ROOT, 'models', 'demo'));
});
after(() => demo.dispose());

describe('parseHardenData', () => {
  it('reads pair and suite lines, reports bad lines by number, skips induction', () => {
    const text = [
      '{"prompt": "The capital of France is", "completion": " Paris"}',
      '',
      '{"prompt": "A cat says", "expected": " meow", "behaviour": "fact"}',
      '{"ids": [1, 5, 6], "expected_ids": [7]}',
      'not json',
      '{"text": "no answer here"}',
      '{"prompt": "x", "expected": ""}',
      '{"behaviour": "induction", "ids": [4, 5, 4, 5]}',
      '{"prompt": 3, "completion": "y"}',
    ].join('\n');
    const p = parseHardenData(text, 'd.jsonl');
    assert.deepEqual(p.records.map((r) => r.line), [1, 3, 4]);
    assert.deepEqual(p.records[0], { line: 1, behaviour: 'default', prompt: 'The capital of France is', answer: ' Paris' });
    assert.deepEqual(p.records[1], { line: 3, behaviour: 'fact', prompt: 'A cat says', answer: ' meow' });
    assert.deepEqual(p.records[2], { line: 4, behaviour: 'default', promptIds: [1, 5, 6], answerIds: [7] });
    assert.deepEqual(p.bad.map((b) => b.line), [5, 6, 7, 9]);
    assert.match(p.bad[0]!.reason, /not valid JSON/);
    assert.match(p.bad[1]!.reason, /no answer/);
    assert.match(p.bad[2]!.reason, /expected/);
    assert.match(p.bad[3]!.reason, /must both be strings/);
    assert.deepEqual(p.skipped.map((s) => s.line), [8]);
  });

  it('tokenizes as the eval suite does and refuses what does not fit', () => {
    const p = parseHardenData('{"prompt": "The capital of France is", "expected": " Paris"}\n{"ids": [1, 999], "expected_ids": [5]}\n', 'd.jsonl');
    const t = tokenizeHardenData(p.records, demo, 4);
    assert.equal(t.items.length, 1);
    const it0 = t.items[0]!;
    assert.deepEqual(it0.promptIds, demo.encode('The capital of France is'));
    assert.deepEqual(it0.answerIds, demo.encode(' Paris', { addSpecialTokens: false }));
    assert.equal(it0.promptIds[0], demo.config.bosTokenId);
    assert.deepEqual(t.bad.map((b) => b.line), [2]);
    assert.match(t.bad[0]!.reason, /outside the vocabulary/);
    const long = tokenizeHardenData(p.records.slice(0, 1), demo, demo.config.nCtx);
    assert.match(long.bad[0]!.reason, /exceed the context/);
  });
});

function fakeItems(n: number): HardenItem[] {
  return Array.from({ length: n }, (_, i) => ({ line: i + 1, behaviour: i % 2 ? 'a' : 'b', promptIds: [1, 10 + i], answerIds: [50 + i], prompt: '', answer: '' }));
}

describe('split and mix', () => {
  it('holds out a seeded, disjoint fraction', () => {
    const items = fakeItems(50);
    const s1 = splitHeldOut(items, 0.2, 3);
    const s2 = splitHeldOut(items, 0.2, 3);
    const s3 = splitHeldOut(items, 0.2, 4);
    assert.equal(s1.eval.length, 10);
    assert.equal(s1.train.length, 40);
    assert.deepEqual(s1.eval.map((x) => x.line), s2.eval.map((x) => x.line));
    assert.notDeepEqual(s1.eval.map((x) => x.line), s3.eval.map((x) => x.line));
    const ev = new Set(s1.eval.map((x) => x.line));
    assert.ok(s1.train.every((x) => !ev.has(x.line)));
    assert.throws(() => splitHeldOut(items, 1, 0), /fraction/);
  });

  it('mixes the requested share of adversarial examples, cycling both pools', () => {
    const clean = Array.from({ length: 7 }, (_, i) => ({ ids: [1, i], lossMask: [0, 1] }));
    const adv = Array.from({ length: 3 }, (_, i) => ({ ids: [2, i], lossMask: [0, 1] }));
    const m = mixExamples(clean, adv, 20, 0.25, 's');
    assert.equal(m.examples.length, 20);
    assert.equal(m.adversarial, 5);
    assert.equal(m.clean, 15);
    // every adversarial example used before any repeats (cycling through a shuffle)
    assert.equal(new Set(m.examples.slice(0, 3).map((e) => e.ids.join())).size, 3);
    assert.deepEqual(mixExamples(clean, adv, 20, 0.25, 's').examples, m.examples);
    assert.equal(mixExamples(clean, [], 20, 0.5, 's').adversarial, 0);
  });

  it('places adversarial tokens after BOS (prefix) or at the end (suffix)', () => {
    assert.deepEqual(withAdvTokens([1, 5, 6], [9, 9], 'prefix', 1), [1, 9, 9, 5, 6]);
    assert.deepEqual(withAdvTokens([5, 6], [9, 9], 'prefix', 1), [9, 9, 5, 6]);
    assert.deepEqual(withAdvTokens([1, 5, 6], [9, 9], 'suffix', 1), [1, 5, 6, 9, 9]);
    const ex = randomAdvExamples(fakeItems(3), 4, [30, 31], 2, 'prefix', 1, 'r');
    assert.equal(ex.length, 4);
    for (const e of ex) {
      assert.equal(e.ids.length, 5);
      assert.ok([30, 31].includes(e.ids[1]!) && [30, 31].includes(e.ids[2]!));
      assert.deepEqual(e.lossMask, [0, 0, 0, 0, 1]);
    }
  });
});

/** Anchored regex of a template's prompt part (the text before its answer slot). */
function promptRegex(t: Template): RegExp {
  const head = t.text.slice(0, t.text.lastIndexOf(` {${t.answer}}`));
  return new RegExp('^' + templateRegex({ ...t, text: head }).source + '$');
}

describe('demo hardening data', () => {
  it('uses only training templates and training IOI pairs, and differs from the eval suite', () => {
    const items = buildHardenData({ seed: 1, nIoi: 60, nAgreement: 40 });
    assert.equal(items.length, hardenFacts().length + 100);
    assert.equal(hardenFacts().length, (CAPITALS.length + PEOPLE_JOBS.length) * 5 + ANIMAL_SOUNDS.length * 4);
    const evalTemplates = [...FACT_TEMPLATES, ...IOI_TEMPLATES, ...AGREEMENT_TEMPLATES].filter((t) => t.split === 'eval');
    const trainTemplates = [...FACT_TEMPLATES, ...IOI_TEMPLATES, ...AGREEMENT_TEMPLATES].filter((t) => t.split === 'train');
    for (const it of items) {
      assert.ok(!evalTemplates.some((t) => promptRegex(t).test(it.prompt)), `eval template used: ${it.prompt}`);
      assert.ok(trainTemplates.some((t) => promptRegex(t).test(it.prompt)), `no train template for: ${it.prompt}`);
    }
    const trainPairs = new Set(ioiPairs('train').flatMap(([a, b]) => [`${a}|${b}`, `${b}|${a}`]));
    for (const it of items.filter((x) => x.behaviour === 'ioi')) {
      const io = it.expected.trim();
      const names = it.prompt.match(/[A-Z][a-z]+/g)!.filter((w) => w !== io && !['When', 'After', 'While', 'Then', 'Yesterday', 'Later'].includes(w));
      assert.ok(trainPairs.has(`${io}|${names[0]}`), `IOI pair ${io}/${names[0]} is not a training pair`);
    }
    const ev = buildEvalSuites({ seed: 1, nIoi: 50, nAgreement: 50, nInduction: 0 });
    const evalPrompts = new Set([...ev.fact, ...ev.ioi, ...ev.agreement].map((x) => x.prompt));
    assert.ok(items.every((x) => !evalPrompts.has(x.prompt)));
    assert.deepEqual(buildHardenData({ seed: 1, nIoi: 60, nAgreement: 40 }), items);
    // every item tokenizes for the demo model with room for a prefix
    const t = tokenizeHardenData(items.map((x, i) => ({ line: i + 1, behaviour: x.behaviour, prompt: x.prompt, answer: x.expected })), demo, 8);
    assert.equal(t.bad.length, 0);
    assert.ok(t.items.every((x) => x.answerIds.length === 1));
  });
});
