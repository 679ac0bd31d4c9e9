// bench/kernels.ts — hot-kernel timings at GPT-2-small shapes: native vs wasm vs cpu.
//
// Run: npx tsx bench/kernels.ts [--threads N] [--quick] [--only substring] [--profile]
// Prints one row per kernel (best-of-N ms per backend — robust on a shared,
// noisy machine — and the wasm/native,
// cpu/native ratios), a transformer-block forward+backward row, and the
// memory bandwidth of a large copy (native multi-threaded copy and
// TypedArray.prototype.set). Cases whose cpu cost would take seconds are
// marked n/a for cpu. --profile instead prints, per backend, where the time
// of one transformer-block forward+backward goes (tf.profile, by kernel). Non-goals: end-to-end model timing (see `llmdbg bench`).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { loadAddon, tryRegisterNativeBackend } from '../src/engine/native/index.js';
import { registerMissingWasmKernels } from '../src/engine/wasm-kernels.js';
import { registerGradients } from '../src/engine/gradients.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const only = arg('--only');
const threads = arg('--threads') ? Number(arg('--threads')) : undefined;

registerGradients();
const reg = tryRegisterNativeBackend(threads ? { threads } : {});
const backends = [...(reg.ok ? ['native'] : []), 'wasm', 'cpu'];
if (!reg.ok) console.log(`native backend unavailable: ${reg.reason}`);
else {
  const l = loadAddon();
  console.log(`native: ${reg.blas}, ${reg.threads} threads, simd=${'addon' in l ? l.addon.info().simd : '?'}`);
}

const T = 64;
const D = 768;
const V = 50257;
let seed = 1;
function rnd(shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    v[i] = ((seed / 4294967296) * 2 - 1) * scale;
  }
  return tf.tensor(v, shape);
}

interface Case {
  name: string;
  /** Builds inputs once per backend and returns the timed closure. */
  setup: () => () => tf.Tensor | tf.Tensor[];
  /** Skip the JS cpu backend (would take seconds). */
  noCpu?: boolean;
}

function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}
/** Same op mix as src/model/layers/norm.ts. */
function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const mu = tf.mean(x, -1, true);
  const c = tf.sub(x, mu);
  const v = tf.mean(tf.square(c), -1, true);
  return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(v, 1e-5))), g), b);
}

/** One GPT-2 block (pre-LN attention + GELU MLP) on x [1,T,D], summed; returns grads of x and weights. */
function blockGrads(): () => tf.Tensor[] {
  const H = 12;
  const hd = D / H;
  const x = rnd([1, T, D]);
  const g1 = rnd([D]);
  const b1 = rnd([D], 0.1);
  const wqkv = rnd([D, 3 * D], 0.05);
  const wo = rnd([D, D], 0.05);
  const w1 = rnd([D, 4 * D], 0.05);
  const w2 = rnd([4 * D, D], 0.05);
  const mask = tf.linalg.bandPart(tf.ones([T, T]), -1, 0);
  const bias = tf.mul(tf.sub(1, mask), -1e9);
  const f = (xx: tf.Tensor, a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => {
    const h = tf.reshape(layerNorm(xx, g1, b1), [T, D]);
    const qkv = tf.matMul(h, a);
    const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [T, H, hd]), [1, 0, 2]));
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), bias));
    const y = tf.reshape(tf.transpose(tf.matMul(att, v), [1, 0, 2]), [T, D]);
    const r = tf.add(tf.reshape(xx, [T, D]), tf.matMul(y, c));
    const m = tf.matMul(gelu(tf.matMul(layerNorm(r, g1, b1), d)), e);
    return tf.sum(tf.add(r, m));
  };
  return () => tf.grads(f)([x, wqkv, wo, w1, w2]);
}

const cases: Case[] = [
  { name: 'matMul [64,768]x[768,2304]', setup: () => { const a = rnd([T, D]); const b = rnd([D, 3 * D]); return () => tf.matMul(a, b); } },
  { name: 'matMul [64,768]x[768,3072]', setup: () => { const a = rnd([T, D]); const b = rnd([D, 4 * D]); return () => tf.matMul(a, b); } },
  { name: 'matMul [64,3072]x[3072,768]', setup: () => { const a = rnd([T, 4 * D]); const b = rnd([4 * D, D]); return () => tf.matMul(a, b); } },
  { name: 'bwd dX: [64,2304]x[768,2304]^T', setup: () => { const a = rnd([T, 3 * D]); const b = rnd([D, 3 * D]); return () => tf.matMul(a, b, false, true); } },
  { name: 'bwd dW: [64,768]^T x[64,2304]', setup: () => { const a = rnd([T, D]); const b = rnd([T, 3 * D]); return () => tf.matMul(a, b, true, false); } },
  { name: 'fused matMul+bias+relu 768x3072', setup: () => { const a = rnd([T, D]); const b = rnd([D, 4 * D]); const c = rnd([4 * D]); return () => tf.fused.matMul({ a, b, bias: c, activation: 'relu' }); } },
  { name: 'LM head [64,768]x[50257,768]^T', noCpu: true, setup: () => { const a = rnd([T, D]); const b = rnd([V, D]); return () => tf.matMul(a, b, false, true); } },
  { name: 'attn QK^T [12,64,64]x[12,64,64]^T', setup: () => { const a = rnd([12, T, 64]); const b = rnd([12, T, 64]); return () => tf.matMul(a, b, false, true); } },
  { name: 'softmax [12,64,64]', setup: () => { const a = rnd([12, T, T], 5); return () => tf.softmax(a); } },
  { name: 'layerNorm [64,768]', setup: () => { const a = rnd([T, D]); const g = rnd([D]); const b = rnd([D]); return () => layerNorm(a, g, b); } },
  { name: 'mean last axis [64,768]', setup: () => { const a = rnd([T, D]); return () => tf.mean(a, -1, true); } },
  { name: 'sum axis 0 [64,3072] (bias grad)', setup: () => { const a = rnd([T, 4 * D]); return () => tf.sum(a, 0); } },
  { name: 'add bcast [64,768]+[768]', setup: () => { const a = rnd([T, D]); const b = rnd([D]); return () => tf.add(a, b); } },
  { name: 'gelu(tanh) [64,3072]', setup: () => { const a = rnd([T, 4 * D]); return () => gelu(a); } },
  { name: 'exp [64,3072]', setup: () => { const a = rnd([T, 4 * D]); return () => tf.exp(a); } },
  { name: 'tanh [64,3072]', setup: () => { const a = rnd([T, 4 * D]); return () => tf.tanh(a); } },
  { name: 'transpose [64,12,64]->[12,64,64]', setup: () => { const a = rnd([T, 12, 64]); return () => tf.transpose(a, [1, 0, 2]); } },
  { name: 'split qkv [64,2304]->3x[64,768]', setup: () => { const a = rnd([T, 3 * D]); return () => tf.split(a, 3, 1); } },
  { name: 'gather wte[50257,768] x 64 ids', setup: () => { const a = rnd([V, D]); const i = tf.tensor(Array.from({ length: T }, (_, k) => (k * 7919) % V), [T], 'int32'); return () => tf.gather(a, i); } },
  { name: 'unsortedSegmentSum -> [50257,768]', noCpu: true, setup: () => { const a = rnd([T, D]); const i = tf.tensor(Array.from({ length: T }, (_, k) => (k * 7919) % V), [T], 'int32'); return () => tf.unsortedSegmentSum(a, i as tf.Tensor1D, V); } },
  { name: 'block fwd+bwd (T=64, D=768)', noCpu: true, setup: blockGrads },
];


async function timeCase(c: Case, backend: string): Promise<number | null> {
  if (backend === 'cpu' && c.noCpu) return null;
  await tf.setBackend(backend);
  if (backend === 'wasm') registerMissingWasmKernels();
  const scope = tf.engine().startScope.bind(tf.engine());
  scope();
  try {
    const f = c.setup();
    const once = () => {
      const t0 = performance.now();
      const out = f();
      const ms = performance.now() - t0;  // all three backends are synchronous
      tf.dispose(out);
      return ms;
    };
    if (once() > 250) return once();  // slow (JS cpu) cases: one warm-up, one timed run
    once();
    const times: number[] = [];
    const budget = quick ? 150 : 600;
    const start = performance.now();
    while (times.length < 3 || (performance.now() - start < budget && times.length < 60)) times.push(once());
    return Math.min(...times);
  } finally {
    tf.engine().endScope();
  }
}

const fmt = (v: number | null) => (v == null ? 'n/a' : v < 10 ? v.toFixed(3) : v.toFixed(1));
const ratio = (a: number | null, b: number | null) => (a == null || b == null ? 'n/a' : `${(a / b).toFixed(1)}x`);

if (argv.includes('--profile')) {
  for (const b of backends.filter((x) => x !== 'cpu')) {
    await tf.setBackend(b);
    if (b === 'wasm') registerMissingWasmKernels();
    tf.engine().startScope();
    const f = blockGrads();
    tf.dispose(f());
    const info = await tf.profile(() => { tf.dispose(f()); });
    tf.engine().endScope();
    const agg = new Map<string, { ms: number; n: number }>();
    let total = 0;
    for (const k of info.kernels) {
      const ms = Number(k.kernelTimeMs);
      total += ms;
      const a = agg.get(k.name) ?? { ms: 0, n: 0 };
      a.ms += ms;
      a.n++;
      agg.set(k.name, a);
    }
    console.log(`\n${b}: block fwd+bwd, ${info.kernels.length} kernel calls, ${total.toFixed(1)} ms in kernels`);
    for (const [k, v] of [...agg].sort((x, y) => y[1].ms - x[1].ms).slice(0, 12)) {
      console.log(`  ${k.padEnd(20)} ${v.ms.toFixed(2).padStart(9)} ms  ${((100 * v.ms) / total).toFixed(1).padStart(5)}%  x${v.n}`);
    }
  }
  process.exit(0);
}

const rows: string[][] = [];
for (const c of cases) {
  if (only && !c.name.includes(only)) continue;
  const r: Record<string, number | null> = {};
  for (const b of backends) r[b] = await timeCase(c, b);
  rows.push([c.name, fmt(r.native ?? null), fmt(r.wasm ?? null), fmt(r.cpu ?? null),
    ratio(r.wasm ?? null, r.native ?? null), ratio(r.cpu ?? null, r.native ?? null)]);
}
const head = ['kernel', 'native ms', 'wasm ms', 'cpu ms', 'wasm/native', 'cpu/native'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));

// Memory bandwidth: 64 MiB source -> destination, best of several runs.
const loaded = loadAddon();
const n = 16 << 20;
const src = new Float32Array(n).fill(1);
const dst = new Float32Array(n);
const gbps = (fn: () => void) => {
  fn();
  let best = Infinity;
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * n * 4) / (best / 1e3) / 1e9;  // bytes read + written
};
const js = gbps(() => dst.set(src));
let nat = 'n/a';
if ('addon' in loaded && reg.ok) {
  loaded.addon.setThreads(1);
  const one = gbps(() => loaded.addon.copy(src, dst));
  loaded.addon.setThreads(reg.threads);
  const all = gbps(() => loaded.addon.copy(src, dst));
  nat = `${one.toFixed(1)} GB/s (1 thread), ${all.toFixed(1)} GB/s (${reg.threads} threads)`;
}
console.log(`\ncopy bandwidth (64 MiB, read+write): native memcpy ${nat}; TypedArray.set ${js.toFixed(1)} GB/s`);
