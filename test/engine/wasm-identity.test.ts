/**
 * The data-sharing WASM Identity kernel (src/engine/wasm-identity.ts): a clone shares its source's
 * buffer (no new backend buffer), and disposing either one first never corrupts or frees the
 * other; buffers are freed when the last holder goes; gradients (whose saved inputs are clones)
 * stay exact and leak nothing. Always runs on WASM, whatever LLMDBG_TEST_BACKEND says.
 */
// test-backends: once (picks the WASM backend itself; see test/run.mjs)
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';

const numDataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
const values = [1.5, -2, 3.25, 0, -0, 7e-39, 1e30, -4];

describe('WASM Identity shares data by reference count', () => {
  before(async () => {
    await initBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });

  for (const order of ['source first', 'clone first'] as const) {
    it(`disposing the ${order} leaves the other intact and frees the buffer with the last holder`, () => {
      const mem0 = tf.memory();
      const ids0 = numDataIds();
      const x = tf.tensor2d(values, [2, 4]);
      const c = tf.clone(x);
      assert.equal(numDataIds(), ids0 + 1, 'the clone must share the buffer, not copy it');
      assert.equal(tf.memory().numTensors, mem0.numTensors + 2);
      const [first, second] = order === 'source first' ? [x, c] : [c, x];
      first.dispose();
      assert.equal(numDataIds(), ids0 + 1, 'the buffer must survive while a holder remains');
      // a new allocation after the dispose must not land in the shared buffer
      const other = tf.fill([2, 4], 99);
      assert.deepEqual([...second.dataSync()], values.map(Math.fround));
      assert.deepEqual(second.shape, [2, 4]);
      // kernels read the survivor correctly
      const plus = tf.add(second, 1);
      assert.deepEqual([...plus.dataSync()], values.map((v) => Math.fround(v) + 1));
      tf.dispose([second, other, plus]);
      assert.equal(numDataIds(), ids0, 'the buffer must be freed with the last holder');
      assert.equal(tf.memory().numTensors, mem0.numTensors);
      assert.equal(tf.memory().numBytes, mem0.numBytes);
    });
  }

  it('clones of clones, an int32 tensor and a reshape of a clone all share and free correctly', () => {
    const ids0 = numDataIds();
    const n0 = tf.memory().numTensors;
    const x = tf.tensor1d([3, -1, 4, 1], 'int32');
    const c1 = tf.clone(x);
    const c2 = tf.clone(c1);
    const r = tf.reshape(c2, [2, 2]);
    x.dispose();
    c2.dispose();
    assert.deepEqual([...c1.dataSync()], [3, -1, 4, 1]);
    assert.equal(c1.dtype, 'int32');
    c1.dispose();
    assert.deepEqual(r.arraySync(), [[3, -1], [4, 1]]);
    r.dispose();
    assert.equal(numDataIds(), ids0);
    assert.equal(tf.memory().numTensors, n0);
  });

  it('a weight used through a clone after the original is disposed multiplies correctly (XNNPACK cache)', () => {
    const w = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const c = tf.clone(w);
    const a = tf.tensor2d([1, -1, 0.5, 2], [2, 2]);
    const y1 = tf.matMul(a, w);
    w.dispose();
    const y2 = tf.matMul(a, c);
    assert.deepEqual([...y2.dataSync()], [...y1.dataSync()]);
    assert.deepEqual([...y2.dataSync()], [-3, -3, -3, 8.5, 11, 13.5]);
    tf.dispose([c, a, y1, y2]);
  });

  it('gradients through kernels that save their inputs are exact and leak nothing', () => {
    const ids0 = numDataIds();
    const n0 = tf.memory().numTensors;
    const x = tf.tensor1d([0.5, -1, 2]);
    const w = tf.tensor2d([1, 0, -1, 2, 0.5, 3], [3, 2]);
    // f(x) = sum((x W)^2) + sum(x^3) -> df/dx = 2 W (x W)^T + 3 x^2
    const g = tf.grad((v: tf.Tensor) => tf.add(tf.sum(tf.square(tf.matMul(tf.reshape(v, [1, 3]), w))), tf.sum(tf.mul(v, tf.square(v)))))(x);
    const xv = [0.5, -1, 2];
    const W = [[1, 0], [-1, 2], [0.5, 3]];
    const xw = [0, 1].map((j) => xv.reduce((s, xi, i) => s + xi * W[i]![j]!, 0));
    const want = xv.map((xi, i) => 2 * (W[i]![0]! * xw[0]! + W[i]![1]! * xw[1]!) + 3 * xi * xi);
    const got = [...g.dataSync()];
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `grad[${i}] ${got[i]} vs ${want[i]}`);
    // inputs survive the backward (their saved clones were released, not the originals)
    assert.deepEqual([...x.dataSync()], xv);
    assert.deepEqual([...w.dataSync()], [1, 0, -1, 2, 0.5, 3]);
    tf.dispose([x, w, g]);
    assert.equal(tf.memory().numTensors, n0);
    assert.equal(numDataIds(), ids0);
  });
});
