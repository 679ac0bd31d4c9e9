// test-backends: once
/**
 * The native backend's output-array pool (src/engine/native/pool.ts) on its own: recycling by
 * length, the byte budget, and least-recently-used eviction by length, so lengths that never come
 * back (decode's KV cache grows one position per step) cannot pin the budget.
 * Non-goals: the kernels that use the pool (test/engine/native-kernels.test.ts).
 */
import * as assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { allocF32, clearPool, poolStats, raisePoolBudget, release, setPoolBudget } from '../../src/engine/native/pool.js';

const N = 16384; // the smallest pooled length (64 KiB)

describe('native output pool', () => {
  const budget0 = poolStats().budget;
  afterEach(() => {
    setPoolBudget(budget0);
    clearPool();
  });

  it('a released array of the same length is handed out again; small arrays are never pooled', () => {
    clearPool();
    const a = allocF32(N);
    release(a);
    assert.equal(allocF32(N), a);
    const s = allocF32(100);
    release(s);
    assert.notEqual(allocF32(100), s);
    assert.equal(poolStats().arrays, 0);
  });

  it('never holds more than its budget; evicts the least recently used length first', () => {
    clearPool();
    setPoolBudget(4 * N * 4); // room for four 64 KiB arrays
    const old = allocF32(N);
    const hot = allocF32(2 * N);
    release(old); // length N used first
    release(hot); // then length 2N
    assert.deepEqual([poolStats().bytes, poolStats().arrays], [3 * N * 4, 2]);
    // each "step" reuses length 2N (like a fixed-shape activation) and adds a new, growing length
    // (like a KV-cache concat): the growing lengths age out, the reused one stays
    for (let step = 1; step <= 5; step++) {
      release(allocF32(2 * N));
      release(allocF32(N + step));
      assert.ok(poolStats().bytes <= 4 * N * 4, `step ${step}: ${poolStats().bytes} bytes pooled`);
    }
    assert.notEqual(allocF32(N), old, 'the stale length was evicted');
    assert.equal(allocF32(2 * N), hot, 'the recently used length survived');
  });

  it('a budget of 0 disables recycling; lowering the budget evicts at once', () => {
    clearPool();
    for (let i = 0; i < 4; i++) release(allocF32(N + i));
    assert.equal(poolStats().arrays, 4);
    setPoolBudget(6 * N); // 1.5 arrays
    assert.equal(poolStats().arrays, 1, 'only what fits stays (the most recent length)');
    setPoolBudget(0);
    assert.equal(poolStats().arrays, 0);
    const a = allocF32(N);
    release(a);
    assert.notEqual(allocF32(N), a);
  });

  it('raisePoolBudget (training) raises a lower budget and restores it; never lowers one', { skip: process.env.LLMDBG_POOL_MB !== undefined && 'LLMDBG_POOL_MB is set' }, () => {
    setPoolBudget(8 * N);
    const restore = raisePoolBudget(64 * N);
    assert.equal(poolStats().budget, 64 * N);
    restore();
    assert.equal(poolStats().budget, 8 * N);
    setPoolBudget(128 * N);
    raisePoolBudget(64 * N)();
    assert.equal(poolStats().budget, 128 * N, 'a larger budget stays');
  });
});
