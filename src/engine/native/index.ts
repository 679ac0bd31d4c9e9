// index.ts — the 'native' TensorFlow.js backend for Node.
//
// Purpose: NativeBackend extends MathBackendCPU (same Float32Array storage),
// so every 'cpu' kernel is re-registered for 'native' unchanged, and the hot
// kernels (matmul, element-wise, reductions, softmax, gather/segment-sum,
// transpose, slice/split/concat, tile) are replaced by calls into the Node-API addon built from
// native/ (BLAS-backed GEMM + a small deterministic thread pool). It also registers the fused
// GPT-2 kernels named in ../fused.ts (tanh GELU, LayerNorm, biased projections), which have
// no cpu twin. A native
// kernel returns null for inputs it does not handle (e.g. int32), and the
// cpu kernel runs instead. Gradients are registered per kernel name in
// tfjs-core, so backward passes use these kernels automatically.
// Non-goals: choosing the backend (src/engine/backend.ts does that).
// LIMITATION: kernels registered for 'cpu' after the first call are not
// mirrored to 'native'.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadAddon, type NativeAddon } from './addon.js';
import { alignedF32, escape, isOwned, release } from './pool.js';
import { addN, BINARY_KERNELS, binaryKernel, UNARY_KERNELS, unaryKernel } from './elementwise.js';
import { batchMatMul, fusedMatMul } from './matmul.js';
import { concat, gatherV2, slice, splitV, tile, transpose, unsortedSegmentSum } from './movement.js';
import { REDUCE_KERNELS, reduceKernel, softmax } from './reduce.js';
import type { KernelArgs, NativeKernel } from './util.js';
import { FUSED_NATIVE_KERNELS } from './fused.js';
import { useFusedLinearOn } from '../fused.js';

export { loadAddon, type NativeAddon } from './addon.js';
export { clearPool, poolStats } from './pool.js';

export const NATIVE_BACKEND = 'native';
export const NATIVE_FIX_HINT =
  process.platform === 'darwin'
    ? 'xcode-select --install && npm rebuild llmdbg (in a checkout: npm rebuild)'
    : 'apt-get install libopenblas-dev && npm rebuild llmdbg (in a checkout: npm rebuild)';

/** CPU backend whose hot kernels run in the native addon; recycles kernel outputs (pool.ts). */
export class NativeBackend extends MathBackendCPU {
  constructor() {
    super();
    // MathBackendCPU nags about tfjs-node on its first write in Node; we *are* the fast path.
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  /** Large float32 data is stored 64-byte aligned (copied if it is not), as GEMMs read it faster. */
  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    return super.write(values instanceof Float32Array ? alignedF32(values) : values, shape, dtype);
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const v = this.data.has(dataId) ? this.data.get(dataId)?.values : undefined;
    // A view into a larger buffer (64-byte aligned arrays, zero-copy slices) is returned as a compact
    // copy: callers may take its `.buffer`, and the stored array stays recyclable.
    if (v instanceof Float32Array && (v.byteOffset !== 0 || v.buffer.byteLength !== v.byteLength)) return v.slice();
    escape(v);
    return super.readSync(dataId);
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const values = this.data.has(dataId) ? this.data.get(dataId)?.values : undefined;
    const done = super.disposeData(dataId, force);
    if (values && !this.data.has(dataId)) release(values);
    return done;
  }

  /** A kernel output sharing an owned input's buffer (a zero-copy view) pins that input. */
  guardViews(inputs: Record<string, tf.TensorInfo | undefined>, out: tf.TensorInfo | tf.TensorInfo[]): void {
    for (const t of Object.values(inputs)) {
      if (!t || !this.data.has(t.dataId)) continue;
      const v = this.data.get(t.dataId)?.values;
      if (!isOwned(v)) continue;
      for (const o of Array.isArray(out) ? out : [out]) {
        if (o.dataId === t.dataId || !this.data.has(o.dataId)) continue;
        const ov = this.data.get(o.dataId)?.values as { buffer?: unknown } | undefined;
        if (ov?.buffer === (v as Float32Array).buffer) escape(v);
      }
    }
  }
}

/** Every kernel that has a native implementation (tfjs kernel name -> impl). */
export function nativeKernels(): Record<string, NativeKernel> {
  const k: Record<string, NativeKernel> = {
    BatchMatMul: batchMatMul, _FusedMatMul: fusedMatMul, Softmax: softmax, AddN: addN,
    GatherV2: gatherV2, UnsortedSegmentSum: unsortedSegmentSum, Transpose: transpose,
    Slice: slice, SplitV: splitV, Concat: concat, Tile: tile,
  };
  for (const [name, [op, alpha]] of Object.entries(UNARY_KERNELS)) k[name] = unaryKernel(op, alpha);
  for (const [name, [op, a, b]] of Object.entries(BINARY_KERNELS)) k[name] = binaryKernel(op, a, b);
  for (const [name, [op, axis]] of Object.entries(REDUCE_KERNELS)) k[name] = reduceKernel(op, axis);
  return k;
}

let registered: { threads: number; blas: string } | null = null;
const stats = new Map<string, { native: number; fallback: number }>();

/** Per-kernel counts of native executions and cpu fallbacks since registration. */
export function nativeKernelStats(): Record<string, { native: number; fallback: number }> {
  return Object.fromEntries([...stats].map(([k, v]) => [k, { ...v }]));
}

export function nativeThreads(): number {
  return registered?.threads ?? 0;
}

/**
 * Loads the addon and registers the 'native' backend (all cpu kernels plus
 * the native ones). Safe to call again (only the thread count changes).
 * threads: defaults to LLMDBG_THREADS or all cores. priority: tfjs backend
 * priority, default 1.5 (above 'cpu' = 1, below 'wasm' = 2).
 */
export function tryRegisterNativeBackend(
  opts: { threads?: number; priority?: number } = {},
): { ok: true; threads: number; blas: string } | { ok: false; reason: string } {
  const loaded = loadAddon();
  if ('error' in loaded) return { ok: false, reason: `${loaded.error}; for the fast path: ${NATIVE_FIX_HINT}` };
  const addon = loaded.addon;
  const envThreads = Number(process.env.LLMDBG_THREADS);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const wanted = opts.threads ?? (Number.isInteger(envThreads) && envThreads > 0 ? envThreads : cores);
  const threads = Math.max(1, Math.min(64, Math.floor(wanted)));
  try {
    addon.setThreads(threads);
    const blas = addon.info().blas;
    if (!registered) {
      register(addon, opts.priority ?? 1.5);
    }
    registered = { threads, blas };
    return { ok: true, threads, blas };
  } catch (e) {
    return { ok: false, reason: `native backend failed to initialise: ${(e as Error)?.message ?? e}` };
  }
}

function register(addon: NativeAddon, priority: number): void {
  if (!tf.findBackendFactory(NATIVE_BACKEND)) {
    tf.registerBackend(NATIVE_BACKEND, () => new NativeBackend(), priority);
  }
  for (const [kernelName, impl] of Object.entries(FUSED_NATIVE_KERNELS)) {
    // No cpu twin: these exist only here (../fused.ts).
    tf.registerKernel({ kernelName, backendName: NATIVE_BACKEND, kernelFunc: (args) => impl(addon, args as unknown as KernelArgs) });
  }
  useFusedLinearOn(NATIVE_BACKEND); // its _FusedMatMul puts a bias row into the GEMM
  const natives = nativeKernels();
  for (const cfg of tf.getKernelsForBackend('cpu')) {
    if (tf.getKernel(cfg.kernelName, NATIVE_BACKEND)) continue;
    const impl = natives[cfg.kernelName];
    const plain = cfg.kernelFunc;
    // cpu kernels may return zero-copy views of their inputs: keep those out of the pool.
    const cpu: tf.KernelFunc = (args) => {
      const out = plain(args);
      (args.backend as NativeBackend).guardViews(args.inputs, out);
      return out;
    };
    if (!impl) {
      tf.registerKernel({ ...cfg, backendName: NATIVE_BACKEND, kernelFunc: cpu });
      continue;
    }
    const count = { native: 0, fallback: 0 };
    stats.set(cfg.kernelName, count);
    tf.registerKernel({
      ...cfg,
      backendName: NATIVE_BACKEND,
      kernelFunc: (args) => {
        const r = impl(addon, args as unknown as KernelArgs);
        if (r) {
          count.native++;
          return r;
        }
        count.fallback++;
        return cpu(args);
      },
    });
  }
}
