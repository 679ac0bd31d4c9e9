// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Tests for the seeded PRNG: reference values, resumability, and argument checks.
 *
 * Expected numbers come from an independent Python implementation of SplitMix32 + xoshiro128**
 * (arbitrary-precision ints masked to 32 bits), and from the published xoshiro128** reference
 * stream for state [1, 2, 3, 4]; never from this code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, hashString } from '../../src/engine/rng.js';
import { LlmdbgError } from '../../src/errors.js';

const take = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.next());

test('xoshiro128** core matches the reference stream for state [1,2,3,4]', () => {
  const r = new Rng(0);
  r.setState([1, 2, 3, 4]);
  assert.deepEqual(take(r, 6), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('SplitMix32 seeding gives the reference states and outputs', () => {
  assert.deepEqual(new Rng(0).getState(), [0x92ca2f0e, 0x3cd6e3f3, 0x1b147dcc, 0x4c081dbf]);
  assert.deepEqual(take(new Rng(0), 5), [3809008728, 1133695204, 53579671, 2891528803, 139681546]);
  assert.deepEqual(new Rng(1).getState(), [0x96a0f96b, 0x12bc8390, 0x971e9964, 0x79adc7e7]);
  assert.deepEqual(take(new Rng(1), 5), [2442144158, 3238099751, 3819917871, 2104621829, 2021136066]);
  assert.deepEqual(take(new Rng(42), 5), [2837322924, 544945897, 479756282, 3500138142, 339756180]);
});

test('string seeds hash with FNV-1a', () => {
  assert.equal(hashString(''), 2166136261);
  assert.equal(hashString('a'), 3826002220);
  assert.equal(hashString('llmdbg'), 2367060511);
  assert.deepEqual(take(new Rng('llmdbg'), 3), [751568852, 1240687406, 2485709544]);
  assert.deepEqual(take(new Rng('llmdbg'), 3), take(new Rng(2367060511), 3));
});

test('int(n) is rejection-sampled modulo n', () => {
  const r = new Rng(7);
  assert.deepEqual(Array.from({ length: 8 }, () => r.int(10)), [0, 7, 9, 8, 7, 9, 7, 4]);
  const s = new Rng(3);
  for (let i = 0; i < 1000; i++) {
    const v = s.int(3);
    assert.ok(v === 0 || v === 1 || v === 2);
  }
  assert.equal(new Rng(3).int(1), 0);
});

test('float() is in [0, 1) and pick/shuffle stay inside their input', () => {
  const r = new Rng('floats');
  for (let i = 0; i < 1000; i++) {
    const f = r.float();
    assert.ok(f >= 0 && f < 1);
  }
  const arr = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const shuffled = r.shuffle([...arr]);
  assert.deepEqual([...shuffled].sort((a, b) => a - b), arr);
  assert.ok(arr.includes(r.pick(arr)));
});

test('getState/setState resumes the stream exactly', () => {
  const a = new Rng('resume');
  take(a, 10);
  const saved = a.getState();
  const expected = take(a, 20);
  const b = new Rng(12345);
  b.setState(saved);
  assert.deepEqual(take(b, 20), expected);
});

test('bad arguments throw LlmdbgError', () => {
  const r = new Rng(1);
  assert.throws(() => r.pick([]), LlmdbgError);
  assert.throws(() => r.int(0), LlmdbgError);
  assert.throws(() => r.int(2.5), LlmdbgError);
  assert.throws(() => new Rng(-1), LlmdbgError);
  assert.throws(() => new Rng(1.5), LlmdbgError);
  assert.throws(() => r.setState([0, 0, 0, 0]), LlmdbgError);
  assert.throws(() => r.setState([1, 2, 3] as unknown as [number, number, number, number]), LlmdbgError);
  assert.throws(() => r.setState([1, 2, 3, 2 ** 32]), LlmdbgError);
});
