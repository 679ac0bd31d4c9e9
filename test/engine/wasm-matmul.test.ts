/**
 * The WASM BatchMatMul of src/engine/wasm-matmul.ts on both routes (llmdbg's kernel, the default,
 * and XNNPACK's with its rules): products where "weight on the left" triggers (`a b^T`, 2-D or
 * batch-1 `b` larger than `a`) and the backward `dY W^T` it serves give the same values and
 * gradients as the CPU backend's plain kernels, free their temporaries, and never leave an XNNPACK
 * cache entry that a later product with another shape could hit.
 * Always runs on WASM (the rule exists only there), whatever LLMDBG_TEST_BACKEND says.
 */
// test-backends: once (picks the WASM backend itself; see test/run.mjs)
import * as assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { setWasmMatMul, weightOnLeftApplies, type WasmMatMulRoute } from '../../src/engine/wasm-matmul.js';
import { Rng } from '../../src/engine/rng.js';

const rng = new Rng(7);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.float() * 2 - 1);
const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

/** Runs `f` on a backend with fresh tensors made from host arrays; returns host arrays. */
async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const data = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return data;
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  assert.ok(worst < 1e-5, `${what}: max relative difference ${worst}`);
}

const numDataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();

for (const route of ['llmdbg', 'xnnpack'] as WasmMatMulRoute[])
describe(`WASM matMul (${route} route): weight on the left`, () => {
  before(async () => {
    await initBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    setWasmMatMul(route);
  });
  after(() => setWasmMatMul('llmdbg'));

  // [a shape, b shape]: every case has transposeB and triggers the rule.
  const cases: Array<[number[], number[]]> = [
    [[5, 7], [11, 7]], // plain 2-D
    [[1, 7], [11, 7]], // one row (decode, the unembedding gradient): output relabelled, not transposed
    [[2, 3, 7], [11, 7]], // batched a, 2-D b: rows stacked
    [[2, 3, 7], [1, 11, 7]], // batch-1 b
    [[3, 7], [1, 1, 11, 7]], // rank-4 batch-1 b broadcasts a up: output [1, 1, 3, 11]
  ];
  for (const [as, bs] of cases) {
    it(`[${as}] x [${bs}]^T equals the CPU backend's product, with gradients`, async () => {
      assert.ok(weightOnLeftApplies(as, bs, false, true), 'the rule must trigger for this shape');
      const av = rand(size(as));
      const bv = rand(size(bs));
      const outShape = tf.backend_util.assertAndGetBroadcastShape(as.slice(0, -2), bs.slice(0, -2)).concat([as.at(-2)!, bs.at(-2)!]);
      const rv = rand(size(outShape));
      const run = () => {
        const a = tf.tensor(av, as);
        const b = tf.tensor(bv, bs);
        const r = tf.tensor(rv, outShape);
        const y = tf.matMul(a, b, false, true);
        const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w, false, true), r)))([a, b]);
        return [y, ...g];
      };
      const ref = await on('cpu', run);
      const n0 = (await tf.setBackend('wasm'), tf.memory().numTensors);
      const ids0 = numDataIds();
      const got = await on('wasm', run);
      assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
      assert.equal(numDataIds(), ids0, 'backend buffers leaked (temporaries of the rule not freed)');
      assertClose(got[0]!, ref[0]!, 'product');
      assertClose(got[1]!, ref[1]!, 'gradient wrt a');
      assertClose(got[2]!, ref[2]!, 'gradient wrt b');
    });
  }

  it('the backward dY W^T of a plain product (the rule in every layer gradient) equals the CPU one', async () => {
    const [T, K, N] = [4, 24, 40]; // x [T, K] W [K, N]: dY [T, N] W^T has W (960) larger than dY (160)
    assert.ok(weightOnLeftApplies([T, N], [K, N], false, true));
    const xv = rand(T * K);
    const wv = rand(K * N);
    const rv = rand(T * N);
    const run = () => {
      const x = tf.tensor2d(xv, [T, K]);
      const w = tf.tensor2d(wv, [K, N]);
      const r = tf.tensor2d(rv, [T, N]);
      const f = (e: tf.Tensor) => tf.sum(tf.mul(tf.tanh(tf.matMul(e, w)), r));
      return [tf.grad(f)(x)];
    };
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    assertClose(got[0]!, ref[0]!, 'input gradient');
  });

  it('does not trigger for a smaller b, a batched b, transposeA or no transposeB', () => {
    assert.equal(weightOnLeftApplies([11, 7], [5, 7], false, true), false);
    assert.equal(weightOnLeftApplies([1, 7], [2, 11, 7], false, true), false);
    assert.equal(weightOnLeftApplies([7, 1], [11, 7], true, true), false);
    assert.equal(weightOnLeftApplies([1, 7], [7, 11], false, false), false);
  });

  it('leaves no XNNPACK cache entry keyed by the left input (a later product that uses it as [1, K] is right)', async () => {
    await tf.setBackend('wasm');
    const K = 6;
    const xv = rand(K);
    const bv = rand(9 * K);
    const cv = rand(3);
    const x = tf.tensor2d(xv, [1, K]);
    const b = tf.tensor2d(bv, [9, K]);
    const c = tf.tensor2d(cv, [3, 1]);
    tf.tidy(() => tf.matMul(x, b, false, true).dataSync()); // rule: x^T [K, 1] is the packed right operand
    const outer = tf.matMul(c, x); // x as a right operand [1, K]: packed anew, not the cached [K, 1]
    const got = outer.dataSync() as Float32Array;
    const want = new Float32Array(3 * K);
    for (let i = 0; i < 3; i++) for (let j = 0; j < K; j++) want[i * K + j] = Math.fround(cv[i]! * xv[j]!);
    assertClose(got, want, 'outer product after the rule');
    tf.dispose([x, b, c, outer]);
  });
});
