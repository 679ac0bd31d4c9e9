/**
 * Attacks on the bundled demo model (a real tokenizer, vocabulary 382) with a fact prompt: success
 * flags re-checked by greedy generation, inserted tokens printable and never special, step logs
 * consistent with independent forwards. The model is being retrained: no scores are hard-coded.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { ROOT } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';
import { attack, type AttackResult } from '../../src/methods/adversarial/index.js';

before(async () => {
  await useTestBackend();
});

const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\uFFFD]/;

/** log p(answer) at the last position from full logits. */
async function answerLogprob(model: Model, ids: number[], answer: number): Promise<{ lp: number; top: number }> {
  const l = await model.logits(ids);
  const V = model.config.vocabSize;
  const row = l.data.subarray((ids.length - 1) * V);
  let m = -Infinity;
  let top = 0;
  row.forEach((x, i) => {
    if (x > m) {
      m = x;
      top = i;
    }
  });
  let s = 0;
  for (const x of row) s += Math.exp(x - m);
  return { lp: row[answer]! - m - Math.log(s), top };
}

describe('attacks on models/demo', () => {
  let model: Model;
  let ids: number[];
  let answer: number;
  const specials = new Set<number>();
  before(async () => {
    model = loadModel(join(ROOT, 'models', 'demo'));
    ids = model.encode('Everyone knows that the capital of France is');
    answer = (await generate(model, ids, { maxNewTokens: 1, stopAtEos: false })).generated[0]!;
    for (const id of [0, 1, 2, 3]) specials.add(id); // <unk> <s> </s> <pad>
  });

  function checkInserted(r: AttackResult): void {
    for (const s of r.steps) {
      if (s.change.toId === null) continue;
      assert.ok(!specials.has(s.change.toId), `special token ${s.change.toId} inserted`);
      const piece = model.decode([s.change.toId]);
      assert.ok(piece.length > 0 && !UNPRINTABLE.test(piece), `unprintable token ${s.change.toId} ${JSON.stringify(piece)}`);
    }
  }

  it('untargeted hotflip: success agrees with greedy generation; only flipped positions differ', async () => {
    const n0 = tf.memory().numTensors;
    const r = await attack(model, { method: 'hotflip', ids, goal: { kind: 'untargeted' } });
    assert.equal(tf.memory().numTensors, n0);
    assert.equal(r.goal.answerIds![0], answer);
    assert.equal(r.original.predictionIds[0], answer);
    const next = (await generate(model, r.adversarial.ids, { maxNewTokens: 1, stopAtEos: false })).generated[0]!;
    assert.equal(r.success, next !== answer);
    const changed = r.adversarial.ids.map((id, i) => (id !== ids[i] ? i : -1)).filter((i) => i >= 0);
    assert.equal(changed.length, r.steps.length, 'one position per flip, each flipped once');
    assert.ok(!changed.includes(0), 'BOS untouched');
    checkInserted(r);
    const ref = await answerLogprob(model, r.adversarial.ids, answer);
    assert.ok(Math.abs(Math.log(r.adversarial.prob) - ref.lp) < 1e-4);
    assert.equal(r.adversarial.text, model.decode(r.adversarial.ids));
    assert.equal((r.info['vocabulary'] as { printableApplied: boolean }).printableApplied, true);
  });

  it('gcg with a prefix: the step log matches independent forwards and the budget', async () => {
    const r = await attack(model, { method: 'gcg', ids, goal: { kind: 'untargeted' }, adv: { where: 'prefix', length: 3 }, batch: 16, budget: { maxSteps: 3 }, seed: 5 });
    assert.ok(r.queries <= 3 * 16);
    assert.equal(r.gradients, r.steps.length);
    let prev = (r.info['start'] as { ids: number[] }).ids;
    for (const s of r.steps) {
      const diff = s.ids.map((id, i) => (id !== prev[i] ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(diff, [s.change.position]);
      assert.ok([1, 2, 3].includes(s.change.position));
      prev = s.ids;
    }
    const last = r.steps.at(-1);
    if (last) assert.ok(Math.abs(last.loss - (await answerLogprob(model, last.ids, answer)).lp) < 1e-4);
    assert.deepEqual(r.adversarial.ids.slice(4), ids.slice(1), 'the question is intact');
    checkInserted(r);
  });

  it('input reduction keeps the answer', async () => {
    const r = await attack(model, { method: 'input-reduction', ids, goal: { kind: 'untargeted' } });
    assert.equal((await answerLogprob(model, r.adversarial.ids, answer)).top, answer);
    assert.equal(r.success, r.adversarial.ids.length < ids.length);
  });
});
