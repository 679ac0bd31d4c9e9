/**
 * `harden()` end to end on the demo model with a tiny budget: it writes a loadable model folder
 * whose report is recomputed independently (the eval suite's generate-based scorer for clean
 * accuracy, fresh `attack()` calls with the reported seeds for attack success, before and after),
 * leaks no tensors, is bit-for-bit deterministic in its seed, and refuses an existing folder.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { ROOT } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { evaluateSuite, readSuite } from '../../src/methods/eval/suite.js';
import { attack } from '../../src/methods/adversarial/attack.js';
import { harden } from '../../src/train/adversarial/harden.js';
import { parseHardenData, readHardenData, tokenizeHardenData, type HardenItem } from '../../src/train/adversarial/data.js';
import { attackRequest, type HeldOutScores } from '../../src/train/adversarial/evaluate.js';
import type { HardenResult } from '../../src/train/adversarial/types.js';
import { buildHardenData, formatHardenJsonl } from '../../src/demo/harden-data.js';
import { LlmdbgError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'llmdbg-harden-'));
after(() => rmSync(root, { recursive: true, force: true }));
const DEMO = join(ROOT, 'models', 'demo');

let demo: Model;
let trainItems: HardenItem[];
let evalItems: HardenItem[];
const suitePath = join(root, 'eval.jsonl');

before(async () => {
  await useTestBackend();
  demo = loadModel(DEMO);
  const data = parseHardenData(formatHardenJsonl(buildHardenData({ seed: 2, nIoi: 20, nAgreement: 40 })), 'h.jsonl');
  trainItems = tokenizeHardenData(data.records, demo, 3).items.filter((_, i) => i % 8 === 0);
  // every 14th held-out line of the demo's eval suite, written back as a suite for the independent scorer
  const ev = readHardenData(join(DEMO, 'eval-suite.jsonl'));
  evalItems = tokenizeHardenData(ev.records.filter((_, i) => i % 14 === 0), demo, 3).items;
  writeFileSync(suitePath, evalItems.map((it) => JSON.stringify({ prompt: it.prompt, expected: it.answer, behaviour: it.behaviour })).join('\n') + '\n');
});
after(() => demo?.dispose());

const base = { attacks: ['gcg', 'hotflip'] as const, attack: { advLen: 3, steps: 2, batch: 8, topK: 8, candidates: 4 }, rounds: 1, steps: 3, batchSize: 4, nAttack: 3, nEvalAttack: 6 };

/** Recomputes clean accuracy and every attack of `s` on `m`, independently of harden's code paths. */
async function recompute(m: Model, s: HeldOutScores, r: HardenResult): Promise<void> {
  const suite = await evaluateSuite(m, readSuite(suitePath));
  assert.equal(suite.n, s.clean.n);
  assert.equal(suite.correct, s.clean.correct, 'clean accuracy differs from the eval suite scorer');
  const byLine = new Map(evalItems.map((it) => [it.line, it]));
  // suite line k is evalItems[k - 1]
  const wrong = new Set(suite.failures.map((f) => evalItems[f.line - 1]!.line));
  const correctLines = new Set(s.sampleLines.filter((l) => !wrong.has(l)));
  for (const method of r.recipe.attacks) {
    const a = s.attacks[method]!;
    assert.deepEqual(a.items.map((x) => x.line), s.sampleLines.filter((l) => correctLines.has(l)), `${method}: the attacked lines are the correctly answered sampled ones`);
    for (const item of a.items) {
      const res = await attack(m, attackRequest(byLine.get(item.line)!, method, r.recipe.attack, item.seed));
      assert.equal(res.success, item.success, `${method} line ${item.line}`);
      assert.deepEqual(res.adversarial.ids, item.advIds);
    }
    assert.ok(a.items.length > 0, `${method}: nothing was attacked, the check would be vacuous`);
    assert.equal(a.successes, a.items.filter((x) => x.success).length);
  }
}

describe('harden()', () => {
  it('attack method: writes a loadable model whose report is recomputed independently', async () => {
    const out = join(root, 'attack');
    const tensors = tf.memory().numTensors;
    const phases = new Set<string>();
    // a suffix breaks the demo model easily, so the round has adversarial examples to train on
    const r = await harden(demo, { ...base, attack: { ...base.attack, advWhere: 'suffix' }, train: trainItems, eval: evalItems, method: 'attack', seed: 5, outDir: out, onProgress: (p) => phases.add(p.phase) });
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.deepEqual([...phases].sort(), ['attack', 'eval-after', 'eval-before', 'save', 'train']);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'harden.json']) assert.ok(existsSync(join(out, f)), f);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'harden.json'), 'utf8')), JSON.parse(JSON.stringify(r)));
    assert.equal(r.rounds.length, 1);
    assert.equal(r.rounds[0]!.examples.clean + r.rounds[0]!.examples.adversarial, base.steps * base.batchSize);
    assert.equal(r.rounds[0]!.advPool, Object.values(r.rounds[0]!.attacks).reduce((n, a) => n + a.successes, 0));
    assert.ok(r.rounds[0]!.advPool > 0 && r.rounds[0]!.examples.adversarial === base.steps * base.batchSize / 2, JSON.stringify(r.rounds[0]));
    assert.equal(r.info['method'], 'harden-attack');
    assert.equal(r.before.sample, 6);
    assert.deepEqual(r.before.sampleLines, r.after.sampleLines);
    assert.equal(r.change.cleanAccuracy, Math.round((r.after.clean.accuracy - r.before.clean.accuracy) * 1e4) / 1e2);

    const hardened = loadModel(out);
    try {
      const w0 = await demo.params.layers[0]!.wQKV.data();
      const w1 = await hardened.params.layers[0]!.wQKV.data();
      assert.ok(w0.some((x, i) => x !== w1[i]), 'the weights must have been trained');
      await recompute(demo, r.before, r);
      await recompute(hardened, r.after, r);
    } finally {
      hardened.dispose();
    }
  });

  it('embedding method: same seed gives the same weight bytes, another seed other bytes', async () => {
    const run = async (seed: number, name: string) => {
      const out = join(root, name);
      const r = await harden(demo, { ...base, nEvalAttack: 0, train: trainItems, eval: evalItems, method: 'embedding', epsilon: 0.3, pgdSteps: 2, seed, outDir: out });
      assert.deepEqual(r.recipe.embedding, { epsilon: 0.3, pgdSteps: 2, advWeight: 0.5 });
      assert.equal(r.rounds[0]!.examples.adversarial, Math.round(base.steps * base.batchSize * 0.5));
      assert.equal(r.before.attacks.gcg!.attacked, 0);
      return readFileSync(join(out, 'model.safetensors'));
    };
    const a = await run(7, 'e1');
    const b = await run(7, 'e2');
    const c = await run(8, 'e3');
    assert.ok(a.equals(b), 'same seed, different bytes');
    assert.ok(!a.equals(c), 'another seed must change the weights');
  });

  it('refuses a non-empty output folder before any work, and bad options', async () => {
    const out = join(root, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'x'), 'x');
    await assert.rejects(harden(demo, { ...base, train: trainItems, eval: evalItems, method: 'attack', outDir: out }), (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_argument' && /not empty/.test(e.message));
    await assert.rejects(harden(demo, { ...base, attacks: ['input-reduction' as 'gcg'], train: trainItems, eval: evalItems, method: 'attack' }), /cannot be trained against/);
    await assert.rejects(harden(demo, { ...base, train: trainItems, eval: [], method: 'attack' }), /no held-out/);
    await assert.rejects(harden(demo, { ...base, attack: { advLen: 200 }, train: trainItems, eval: evalItems, method: 'attack' }), /beyond the context/);
  });
});
