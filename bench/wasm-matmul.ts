/**
 * The WASM backend's two matrix-product routes side by side at GPT-2-small shapes, one thread:
 * llmdbg's kernel (native/wasm/gemm.c, the default) and XNNPACK through tfjs-backend-wasm (with the
 * transposition rules of src/engine/wasm-matmul.ts), on the same inputs: median ms of 5 runs after
 * 2 warm-ups, GF/s, the ratio (> 1: llmdbg faster) and the largest difference between the two
 * results relative to 1 + |value|.
 * Non-goals: end-to-end timing (bench/runtime.ts --backend wasm), other backends (bench/kernels.ts).
 *
 *   npx tsx bench/wasm-matmul.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/engine/backend.js';
import { setWasmMatMul, wasmMatMulRoute, type WasmMatMulRoute } from '../src/engine/wasm-matmul.js';

await initBackend('wasm');
if (wasmMatMulRoute().route !== 'llmdbg') throw new Error(`llmdbg's WASM kernel did not load: ${wasmMatMulRoute().loadError}`);

// [what, a shape, b shape, transposeA, transposeB]
const CASES: Array<[string, number[], number[], boolean, boolean]> = [
  ['prefill qkv x W', [64, 768], [768, 2304], false, false],
  ['prefill mlp x W', [64, 768], [768, 3072], false, false],
  ['prefill proj x W', [64, 3072], [3072, 768], false, false],
  ['decode x W', [1, 768], [768, 3072], false, false],
  ['decode proj x W', [1, 3072], [3072, 768], false, false],
  ['decode unembedding x wte^T', [1, 768], [50257, 768], false, true],
  ['backward dY W^T', [64, 3072], [768, 3072], false, true],
  ['weight gradient X^T dY', [64, 768], [64, 3072], true, false],
  ['attention scores (12 heads)', [12, 64, 64], [12, 64, 64], false, true],
  ['attention values (12 heads)', [12, 64, 64], [12, 64, 64], false, false],
  ['saliency dlogits wte', [1, 50257], [50257, 768], false, false],
];

const rows: string[] = [];
for (const [what, as, bs, ta, tb] of CASES) {
  const a = tf.randomUniform(as, -1, 1, 'float32', 1);
  const b = tf.randomUniform(bs, -1, 1, 'float32', 2);
  const ms: Partial<Record<WasmMatMulRoute, number>> = {};
  const out: Partial<Record<WasmMatMulRoute, Float32Array>> = {};
  for (const route of ['llmdbg', 'xnnpack'] as const) {
    setWasmMatMul(route);
    for (let i = 0; i < 2; i++) tf.matMul(a, b, ta, tb).dispose();
    const ts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b, ta, tb);
      const v = c.dataSync() as Float32Array;
      ts.push(performance.now() - t0);
      out[route] = v;
      c.dispose();
    }
    ms[route] = ts.sort((x, y) => x - y)[2]!;
  }
  setWasmMatMul('llmdbg');
  const x = out.llmdbg!;
  const y = out.xnnpack!;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1 + Math.abs(y[i]!)));
  const M = ta ? as.at(-1)! : as.at(-2)!;
  const K = ta ? as.at(-2)! : as.at(-1)!;
  const N = tb ? bs.at(-2)! : bs.at(-1)!;
  const batch = as.length === 3 ? as[0]! : 1;
  const gflops = (2 * batch * M * N * K) / 1e6;
  rows.push(`| ${what} | [${as}]${ta ? 'ᵀ' : ''} x [${bs}]${tb ? 'ᵀ' : ''} | ${ms.llmdbg!.toFixed(2)} | ${(gflops / ms.llmdbg!).toFixed(1)} | ${ms.xnnpack!.toFixed(2)} | ${(ms.xnnpack! / ms.llmdbg!).toFixed(2)} | ${worst.toExponential(1)} |`);
  tf.dispose([a, b]);
}
process.stdout.write(['| product | shapes | llmdbg ms | GF/s | XNNPACK ms | ratio | max diff |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n') + '\n');
