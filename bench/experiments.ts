/**
 * Micro-experiments behind the suggestions in bench/README.md: alternative formulations of the
 * hot operations of a GPT-2-small forward/backward, timed on the current backend with the real
 * shapes (C = 768, M = 3072, V = 50257). On WASM, tfjs 4.22 sends a matMul to XNNPACK only when
 * neither operand is transposed and the batch is 1 (else a scalar loop); llmdbg's
 * src/engine/wasm-matmul.ts runs `a b^T` with a larger 2-D `b` weight on the left (since
 * 2026-12-03) and transposes other transposed operands explicitly. XNNPACK keeps a packed copy
 * of every `b` operand it has seen until that tensor is disposed (a fresh copy is repacked).
 * Non-goals: changing src/model (these only measure; the lead decides).
 *
 *   npx tsx bench/experiments.ts [--backend wasm] [--repeats 5] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { memorySnapshot, stat } from './common.js';

interface Experiment { group: string; variant: string; ms: number; minMs: number; heapGrowthMB: number | null }

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = (rng.float() - 0.5) * 0.1;
  return tf.tensor(d, shape);
}

/** Median time of `fn` (result read back) after one warm-up call, and WASM heap growth over all calls. */
function measure(group: string, variant: string, fn: () => tf.Tensor, repeats: number): Experiment {
  const heap0 = memorySnapshot().wasmHeapMB;
  const run = () => {
    const t0 = performance.now();
    const y = fn();
    y.dataSync();
    const ms = performance.now() - t0;
    y.dispose();
    return ms;
  };
  run();
  const ts = Array.from({ length: repeats }, run);
  const heap1 = memorySnapshot().wasmHeapMB;
  const s = stat(ts);
  return { group, variant, ms: s.median, minMs: s.min, heapGrowthMB: heap0 === null || heap1 === null ? null : heap1 - heap0 };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, repeats: { type: 'string', default: '5' }, json: { type: 'boolean' } } });
  const backend = await initBackend(v.backend as BackendChoice);
  const R = Number(v.repeats);
  const C = 768, M = 3072, V = 50257;
  const out: Experiment[] = [];
  const wte = randn([V, C], 1); // [V, C]
  const wteT = tf.transpose(wte); // [C, V]
  const wIn = randn([C, M], 2); // [C, M]
  const wInT = tf.transpose(wIn); // [M, C]
  for (const T of [1, 64]) {
    const x = randn([T, C], 3);
    const dy = randn([T, M], 4);
    const h = randn([T, M], 5);
    // 1) the tied unembedding
    out.push(measure(`unembed x[${T},${C}] -> [${T},${V}]`, 'matMul(x, wte[V,C], false, true)  (transposed product: the kernel runs it weight on the left)', () => tf.matMul(x, wte, false, true), R));
    out.push(measure(`unembed x[${T},${C}] -> [${T},${V}]`, 'matMul(x, wteT[C,V])  (pre-transposed copy)', () => tf.matMul(x, wteT), R));
    out.push(measure(`unembed x[${T},${C}] -> [${T},${V}]`, 'transpose(matMul(wte, transpose(x)))  (weights as left operand: no copy)', () => tf.tidy(() => tf.transpose(tf.matMul(wte, tf.transpose(x)))), R));
    // 2) an MLP input projection, forward
    out.push(measure(`forward x[${T},${C}] @ W[${C},${M}]`, 'matMul(x, W)  (as the forward issues it, XNNPACK)', () => tf.matMul(x, wIn), R));
    out.push(measure(`forward x[${T},${C}] @ W[${C},${M}]`, 'transpose(matMul(Wt[M,C], transpose(x)))  (weights as left operand: no packed copy)', () => tf.transpose(tf.matMul(wInT, tf.transpose(x))), R));
    // 3) its backward w.r.t. the input: dX = dY W^T
    out.push(measure(`backward dY[${T},${M}] @ W^T`, 'matMul(dY, W, false, true)  (as the gradient issues it: the kernel runs it weight on the left)', () => tf.matMul(dy, wIn, false, true), R));
    out.push(measure(`backward dY[${T},${M}] @ W^T`, 'matMul(dY, transpose(W))  (explicit transpose per call: the kernel before 2026-12-03)', () => tf.tidy(() => tf.matMul(dy, tf.transpose(wIn))), R));
    out.push(measure(`backward dY[${T},${M}] @ W^T`, 'matMul(dY, Wt)  (stored [out, in] copy)', () => tf.matMul(dy, wInT), R));
    out.push(measure(`backward dY[${T},${M}] @ W^T`, 'transpose(matMul(W, transpose(dY)))  (weights as left operand: no copy)', () => tf.tidy(() => tf.transpose(tf.matMul(wIn, tf.transpose(dy)))), R));
    // 4) gelu_new's cube
    out.push(measure(`gelu cube h[${T},${M}]`, 'tf.pow(h, 3)  (gelu_new before 2026-12-03)', () => tf.pow(h, 3), R));
    out.push(measure(`gelu cube h[${T},${M}]`, 'tf.mul(h, tf.square(h))  (gelu_new now)', () => tf.tidy(() => tf.mul(h, tf.square(h))), R));
    out.push(measure(`gelu h[${T},${M}]`, 'tanh(h)', () => tf.tanh(h), R));
    tf.dispose([x, dy, h]);
  }
  // 5) the backward of the tied unembedding w.r.t. its input, one row: dX = dLogits @ wte
  const dl = randn([1, V], 6);
  out.push(measure(`unembed backward dL[1,${V}] @ wte[${V},${C}]`, 'matMul(dL, wte)  (gradient of the transposed product; wte packed once)', () => tf.matMul(dl, wte), R));
  out.push(measure(`unembed backward dL[1,${V}] @ wte[${V},${C}]`, 'matMul(dL, clone(wte))  (a recorded backward: the saved input is a clone, which now shares data)', () => tf.tidy(() => tf.matMul(dl, tf.clone(wte))), R));
  out.push(measure(`unembed backward dL[1,${V}] @ wte[${V},${C}]`, 'transpose(matMul(wteT, transpose(dL)))  (left operand)', () => tf.tidy(() => tf.transpose(tf.matMul(wteT, tf.transpose(dl)))), R));
  out.push(measure(`unembed backward dL[1,${V}] @ wte[${V},${C}]`, 'matMul(dL, wteT, false, true)  (the gradient of matMul(x, wUT) as issued: the kernel runs it weight on the left)', () => tf.matMul(dl, wteT, false, true), R));
  // 6) attention score products (batched: always the scalar loop on WASM)
  const q = randn([12, 64, 64], 7), k = randn([12, 64, 64], 8);
  out.push(measure('attention scores [12,64,64] x [12,64,64]^T', 'matMul(q, k, false, true)  (batched, as attention issues it)', () => tf.matMul(q, k, false, true), R));
  out.push(measure('attention scores [12,64,64] x [12,64,64]^T', 'per-head 2-D matMul(q_h, transpose(k_h)) + stack', () => tf.tidy(() => tf.stack(tf.unstack(q).map((qh, i) => tf.matMul(qh, tf.transpose(tf.unstack(k)[i]!))))), R));
  tf.dispose([wte, wteT, wIn, wInT, dl, q, k]);

  if (v.json) {
    process.stdout.write(JSON.stringify({ info: { method: 'experiments', backend: backend.name, repeats: R }, experiments: out }) + '\n');
    return;
  }
  process.stdout.write(`backend ${backend.name}, median of ${R} after a warm-up; heap growth = WASM memory grown during the variant (packed weight copies)\n`);
  let group = '';
  for (const e of out) {
    if (e.group !== group) process.stdout.write(`\n${(group = e.group)}\n`);
    process.stdout.write(`  ${e.ms.toFixed(2).padStart(9)} ms (min ${e.minMs.toFixed(2)})${e.heapGrowthMB ? `  heap +${e.heapGrowthMB.toFixed(0)} MB` : ''}  ${e.variant}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`bench/experiments: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
