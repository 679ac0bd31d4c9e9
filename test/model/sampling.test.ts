// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Sampling: greedy ties, temperature, top-k and top-p semantics on hand-made logits, and that the
 * empirical distribution of draws matches the closed-form filtered distribution.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseToken, checkSampling } from '../../src/model/sampling.js';
import { Rng } from '../../src/engine/rng.js';
import { LlmdbgError } from '../../src/errors.js';

const logits = Float32Array.from([Math.log(0.1), Math.log(0.4), Math.log(0.3), Math.log(0.2)]);

it('greedy takes the argmax, ties to the lower id, and reports the model probability', () => {
  const c = chooseToken(logits, { temperature: 0, topK: 0, topP: 1 }, null);
  assert.equal(c.id, 1);
  assert.ok(Math.abs(c.prob - 0.4) < 1e-6);
  assert.equal(chooseToken(Float32Array.from([1, 3, 3]), { temperature: 0, topK: 0, topP: 1 }, null).id, 1);
  assert.deepEqual(c.top.map((t) => t.id), [1, 2, 3, 0]);
});

function empirical(o: { temperature: number; topK: number; topP: number }, n = 20000): number[] {
  const rng = new Rng(7);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) counts[chooseToken(logits, o, rng).id]!++;
  return counts.map((c) => c / n);
}

function near(a: number[], b: number[], tol = 0.015): void {
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < tol, `p[${i}] = ${x}, expected ${b[i]}`));
}

it('temperature 1 samples the model distribution; top-k and top-p renormalise the kept set', () => {
  near(empirical({ temperature: 1, topK: 0, topP: 1 }), [0.1, 0.4, 0.3, 0.2]);
  near(empirical({ temperature: 1, topK: 2, topP: 1 }), [0, 0.4 / 0.7, 0.3 / 0.7, 0]);
  // top-p 0.75: smallest set with mass >= 0.75 is {1, 2, 3} (0.4 + 0.3 + 0.2 = 0.9 > 0.7)
  near(empirical({ temperature: 1, topK: 0, topP: 0.75 }), [0, 0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9]);
  // temperature 0.5 squares the probabilities before renormalising
  const sq = [0.01, 0.16, 0.09, 0.04];
  const z = sq.reduce((a, b) => a + b, 0);
  near(empirical({ temperature: 0.5, topK: 0, topP: 1 }), sq.map((x) => x / z));
});

it('same seed, same draws; the recorded sample probability is the filtered one', () => {
  const a = new Rng(3), b = new Rng(3);
  const o = { temperature: 0.8, topK: 3, topP: 0.9 };
  for (let i = 0; i < 50; i++) assert.deepEqual(chooseToken(logits, o, a), chooseToken(logits, o, b));
  const c = chooseToken(logits, { temperature: 1, topK: 1, topP: 1 }, new Rng(1));
  assert.equal(c.id, 1);
  assert.equal(c.sampleProb, 1);
});

it('rejects impossible options with the flag name', () => {
  for (const [o, re] of [[{ temperature: -1, topK: 0, topP: 1 }, /--temperature/], [{ temperature: 1, topK: 1.5, topP: 1 }, /--top-k/], [{ temperature: 1, topK: 0, topP: 0 }, /--top-p/]] as const) {
    assert.throws(() => checkSampling(o), (e: unknown) => e instanceof LlmdbgError && re.test(e.message));
  }
});

it('rankIds equals a comparator sort (value descending, ties by id) for full and partial ranks', async () => {
  const { rankIds } = await import('../../src/model/sampling.js');
  const rng = new Rng(11);
  for (let trial = 0; trial < 20; trial++) {
    const n = 1 + rng.int(3000);
    // few distinct values so ties are common; negative, zero and positive
    const v = Float32Array.from({ length: n }, () => (rng.int(41) - 20) / 4);
    const expect = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[b]! - v[a]! || a - b);
    assert.deepEqual(rankIds(v), expect);
    const k = 1 + rng.int(70);
    assert.deepEqual(rankIds(v, k), expect.slice(0, k));
  }
});
