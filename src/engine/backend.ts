/**
 * Chooses and initialises the TensorFlow.js backend that runs the model code.
 *
 * Order for `auto`: the native addon (BLAS, all cores) when it is built, else WASM (single thread),
 * else the pure-JS CPU backend. `--backend` or LLMDBG_BACKEND choose explicitly. The model code is
 * backend-agnostic; this file is the only place that knows backends exist.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { LlmdbgError } from '../errors.js';
import { registerMissingWasmKernels } from './wasm-kernels.js';
import { registerFastWasmMatMul, wasmMatMulRoute } from './wasm-matmul.js';
import { registerGradients } from './gradients.js';
import { raisePoolBudget, uninitialisedF32 } from './native/pool.js';

export const BACKENDS = ['auto', 'native', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export interface BackendInfo {
  name: 'native' | 'wasm' | 'cpu';
  threads: number;
  /** Why a faster backend was not used, when `auto` fell back. */
  note?: string;
}

let current: BackendInfo | null = null;

type NativeModule = { tryRegisterNativeBackend(opts: { threads?: number }): { ok: true; threads: number; blas: string } | { ok: false; reason: string } };

async function tryNative(threads?: number): Promise<{ ok: true; threads: number } | { ok: false; reason: string }> {
  let mod: NativeModule;
  try {
    // A variable specifier keeps the type checker from requiring the optional module.
    const spec = './native/index.js';
    mod = (await import(spec)) as NativeModule;
  } catch (e) {
    return { ok: false, reason: `native backend module not available (${(e as Error).message})` };
  }
  return mod.tryRegisterNativeBackend(threads === undefined ? {} : { threads });
}

/** Initialises the backend once per process; later calls return the first choice. */
export async function initBackend(choice?: BackendChoice, opts: { threads?: number } = {}): Promise<BackendInfo> {
  if (current) return current;
  // tfjs-core's Node bundle registers no gradients; attribution and training need them.
  registerGradients();
  const requested = (choice ?? (process.env['LLMDBG_BACKEND'] as BackendChoice | undefined) ?? 'auto') as string;
  if (!(BACKENDS as readonly string[]).includes(requested)) {
    throw new LlmdbgError('invalid_argument', `unknown backend "${requested}"`, { hint: `choose one of ${BACKENDS.join(', ')} (--backend or LLMDBG_BACKEND)` });
  }
  let note: string | undefined;
  if (requested === 'native' || requested === 'auto') {
    const r = await tryNative(opts.threads);
    if (r.ok && (await tf.setBackend('native'))) {
      await tf.ready();
      current = { name: 'native', threads: r.threads };
      return current;
    }
    const reason = r.ok ? 'the native backend failed to initialise' : r.reason;
    if (requested === 'native') {
      throw new LlmdbgError('backend_unavailable', `the native backend is not available: ${reason}`, {
        hint: 'install a BLAS and rebuild (Debian/Ubuntu: apt-get install libopenblas-dev && npm rebuild), or use --backend wasm',
      });
    }
    note = `native backend unavailable (${reason}); using WASM. For the fast path: apt-get install libopenblas-dev && npm rebuild`;
  }
  if (requested === 'wasm' || requested === 'auto') {
    try {
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        registerMissingWasmKernels();
        registerFastWasmMatMul();
        const gemmError = wasmMatMulRoute().loadError;
        if (gemmError) note = `${note ? note + '; ' : ''}llmdbg's WASM matrix kernel did not load (${gemmError}); products go through XNNPACK, which keeps a second copy of the weights`;
        current = { name: 'wasm', threads: 1, ...(note ? { note } : {}) };
        return current;
      }
    } catch (e) {
      if (requested === 'wasm') throw new LlmdbgError('backend_unavailable', `the WASM backend failed to start: ${(e as Error).message}`, { hint: 'use --backend cpu' });
      note = `WASM backend failed (${(e as Error).message}); using the slow CPU backend`;
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  current = { name: 'cpu', threads: 1, ...(note ? { note } : {}) };
  return current;
}

export function backendInfo(): BackendInfo | null {
  return current;
}

/**
 * For a workload that repeats the same tensor shapes for a long time (training, batched gradient
 * passes): lets the backend keep more freed kernel outputs for reuse (native: `bytes`, default
 * 192 MiB, instead of 48; the others keep none).
 * Returns a function that restores the default. Numerics are unchanged; only allocation is.
 */
/**
 * An allocator for host float32 arrays that will become tensor data (model loading), placing them
 * where the active backend's kernels read them fastest (native: 64-byte aligned, uninitialised),
 * or undefined for a plain Float32Array.
 */
export function hostArrayAllocator(): ((count: number) => Float32Array) | undefined {
  return tf.getBackend() === 'native' ? uninitialisedF32 : undefined;
}

export function recycleForRepeatedShapes(bytes = 192 * 2 ** 20): () => void {
  return raisePoolBudget(bytes);
}
