/**
 * llmdbg's WASM matrix kernel (native/wasm/gemm.c through src/engine/wasm-gemm.ts and the
 * BatchMatMul of src/engine/wasm-matmul.ts), against independent references computed here in JS:
 * a float64 product for every transpose combination and edge size, an exact float32 replay of the
 * summation order for the blocked row form (so splitting K into chunks provably changes no byte),
 * broadcast batches, determinism, and the committed .wasm being a build of its source.
 * Always runs on WASM, whatever LLMDBG_TEST_BACKEND says.
 */
// test-backends: once (picks the WASM backend itself; see test/run.mjs)
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend.js';
import { wasmMatMulRoute } from '../../src/engine/wasm-matmul.js';
import { Rng } from '../../src/engine/rng.js';

const rng = new Rng(11);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.float() * 2 - 1);

/** op(A) x op(B) for one batch item in float64; A is [M, K] or (transA) [K, M], B [K, N] or (transB) [N, K]. */
function ref64(A: Float32Array, B: Float32Array, M: number, N: number, K: number, tA: boolean, tB: boolean): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[tA ? k * M + i : i * K + k]! * B[tB ? j * K + k : k * N + j]!;
      C[i * N + j] = s;
    }
  return C;
}

/** Worst |got - want| / (sum over k of |a b| + tiny): float32 error relative to the product's scale. */
function worstScaled(got: ArrayLike<number>, want: Float64Array, scale: Float64Array): number {
  let worst = 0;
  for (let e = 0; e < want.length; e++) worst = Math.max(worst, Math.abs(got[e]! - want[e]!) / (scale[e]! + 1e-30));
  return worst;
}

function absProduct(A: Float32Array, B: Float32Array, M: number, N: number, K: number, tA: boolean, tB: boolean): Float64Array {
  return ref64(A.map(Math.abs), B.map(Math.abs), M, N, K, tA, tB);
}

describe('WASM matrix kernel (llmdbg route)', () => {
  before(async () => {
    await initBackend('wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.deepEqual(wasmMatMulRoute(), { route: 'llmdbg' }, 'the kernel must have loaded');
  });

  // Sizes around every block edge: 4-row and 8-column blocks, 2 x 4 dot blocks, 4-wide vectors,
  // 8-row streaming, and K beyond one 256-row chunk.
  const sizes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 5, 3], [1, 9, 17], [1, 768, 40], [1, 13, 600], [2, 3, 5], [3, 8, 4], [4, 8, 8],
    [5, 9, 7], [7, 17, 33], [8, 16, 256], [9, 12, 257], [6, 10, 515], [13, 11, 1],
  ];
  for (const [M, N, K] of sizes)
    for (const tA of [false, true])
      for (const tB of [false, true])
        it(`[M ${M}, N ${N}, K ${K}] transposeA=${tA} transposeB=${tB} matches a float64 product`, () => {
          const A = rand(M * K);
          const B = rand(K * N);
          const got = tf.tidy(() => tf.matMul(tf.tensor2d(A, tA ? [K, M] : [M, K]), tf.tensor2d(B, tB ? [N, K] : [K, N]), tA, tB).dataSync());
          const worst = worstScaled(got, ref64(A, B, M, N, K, tA, tB), absProduct(A, B, M, N, K, tA, tB));
          assert.ok(worst < 4e-7 * Math.max(1, Math.log2(K + 1)), `error ${worst} of the product's scale`);
        });

  it('the blocked row form sums k in order: bytes equal a float32 loop, across K chunks of 256', () => {
    for (const [M, N, K, tA] of [[5, 19, 700, false], [8, 8, 256, true], [12, 24, 1030, true]] as Array<[number, number, number, boolean]>) {
      const A = rand(M * K);
      const B = rand(K * N);
      const got = tf.tidy(() => tf.matMul(tf.tensor2d(A, tA ? [K, M] : [M, K]), tf.tensor2d(B, [K, N]), tA, false).dataSync());
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s = Math.fround(s + Math.fround(A[tA ? k * M + i : i * K + k]! * B[k * N + j]!));
          assert.equal(got[i * N + j], s, `[${M}, ${N}, ${K}] element (${i}, ${j})`);
        }
    }
  });

  it('broadcasts a batch-1 operand against a batched one, on either side', () => {
    const [M, N, K] = [3, 5, 6];
    for (const [ba, bb] of [[4, 1], [1, 4], [4, 4]]) {
      const A = rand(ba * M * K);
      const B = rand(bb * K * N);
      const got = tf.tidy(() => tf.matMul(tf.tensor3d(A, [ba, M, K]), tf.tensor3d(B, [bb, N, K]), false, true).dataSync());
      for (let b = 0; b < 4; b++) {
        const a = A.subarray((ba === 1 ? 0 : b) * M * K, (ba === 1 ? 1 : b + 1) * M * K);
        const w = B.subarray((bb === 1 ? 0 : b) * K * N, (bb === 1 ? 1 : b + 1) * K * N);
        const worst = worstScaled(got.subarray(b * M * N, (b + 1) * M * N), ref64(a, w, M, N, K, false, true), absProduct(a, w, M, N, K, false, true));
        assert.ok(worst < 1e-6, `batch ${b} of [${ba}] x [${bb}]: error ${worst}`);
      }
    }
  });

  it('an empty inner dimension gives zeros; an empty output gives an empty tensor', () => {
    const z = tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]));
    assert.deepEqual(Array.from(z.dataSync()), new Array(12).fill(0));
    const e = tf.matMul(tf.zeros([0, 5]), tf.ones([5, 4]));
    assert.deepEqual(e.shape, [0, 4]);
    tf.dispose([z, e]);
  });

  it('gives the same bytes on every call', () => {
    const A = rand(33 * 300);
    const B = rand(300 * 70);
    const run = () => tf.tidy(() => tf.matMul(tf.tensor2d(A, [33, 300]), tf.tensor2d(B, [70, 300]), false, true).dataSync());
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    assert.deepEqual(bytes(run() as Float32Array), bytes(run() as Float32Array));
  });

  it('the committed gemm.wasm is a build of gemm.c (checked where clang with the wasm32 target exists)', (t) => {
    try {
      execFileSync('clang', ['--print-targets'], { stdio: 'pipe' });
      execFileSync('wasm-ld', ['--version'], { stdio: 'pipe' });
    } catch {
      t.skip('clang or wasm-ld not installed (apt-get install clang lld)');
      return;
    }
    const out = execFileSync('node', ['tools/build-wasm-gemm.mjs', '--check'], { encoding: 'utf8' });
    assert.match(out, /matches its source/);
  });
});
