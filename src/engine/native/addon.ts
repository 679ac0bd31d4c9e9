// addon.ts — locate and load native/build/Release/llmdbg_native.node.
//
// Purpose: typed view of the Node-API addon and a loader that works from
// src/ (tsx), dist/ (tsc output) and an installed package. The package root
// is found by walking up from this file to the package.json named "llmdbg";
// LLMDBG_NATIVE_PATH overrides the addon path.
// Non-goals: downloading prebuilt binaries.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type F32 = Float32Array;
export type Word = Float32Array | Int32Array | Uint32Array;

/** Op codes; must match the enums in native/src/common.h. */
export const UnaryOp = {
  Exp: 0, Log: 1, Sqrt: 2, Rsqrt: 3, Tanh: 4, Sigmoid: 5, Erf: 6, Neg: 7, Square: 8, Abs: 9,
  Relu: 10, Relu6: 11, Elu: 12, LeakyRelu: 13, Reciprocal: 14, Softplus: 15, Sin: 16, Cos: 17,
  Log1p: 18, Expm1: 19, Step: 20, Selu: 21,
} as const;
export const BinaryOp = {
  Add: 0, Sub: 1, Mul: 2, Div: 3, Max: 4, Min: 5, SquaredDifference: 6, Pow: 7, Prelu: 8,
} as const;
export const ReduceOp = { Sum: 0, Mean: 1, Max: 2, Min: 3, Prod: 4 } as const;

export interface NativeAddon {
  info(): { blas: string; threads: number; simd: string; blasThreading: boolean };
  /** Pool size for element-wise kernels and GEMM tiles (OpenBLAS itself stays at 1 thread). */
  setThreads(n: number): void;
  /** true: OpenBLAS threads each GEMM itself (default false; env LLMDBG_BLAS_THREADING=blas). */
  setBlasThreading(on: boolean): void;
  gemm(a: F32, b: F32, c: F32, batch: number, m: number, n: number, k: number, transA: boolean,
    transB: boolean, strideA: number, strideB: number, bias: F32 | null): void;
  unary(op: number, x: F32, y: F32, alpha: number): void;
  binary(op: number, a: F32, aShape: number[], b: F32, bShape: number[], out: F32, outShape: number[]): boolean;
  reduce(op: number, x: F32, out: F32, outer: number, reduce: number, inner: number): void;
  softmax(x: F32, y: F32, rows: number, n: number): void;
  gather(x: Word, idx: Int32Array, out: Word, outer: number, dim: number, inner: number): number;
  segmentSum(x: F32, ids: Int32Array, out: F32, rows: number, inner: number, numSegments: number): void;
  transpose(x: Word, out: Word, shape: number[], perm: number[]): void;
  slice(x: Word, out: Word, shape: number[], begin: number[], size: number[]): void;
  concat(xs: Word[], inner: number[], out: Word, outer: number): void;
  copy(src: Word, dst: Word): void;
  geluTanh(x: F32, y: F32): void;
  geluTanhGrad(x: F32, dy: F32, dx: F32): void;
  layerNorm(x: F32, w: F32, b: F32 | null, y: F32, rows: number, n: number, eps: number): void;
  layerNormGrad(x: F32, w: F32, dy: F32, dx: F32 | null, dw: F32 | null, db: F32 | null, rows: number, n: number, eps: number): void;
  /** Rotary embedding of x [B, T, N, D] (or, grad, its input gradient with x = dy) into y; cos, sin [T, D]. */
  rope(x: F32, cos: F32, sin: F32, y: F32, B: number, T: number, N: number, D: number, grad: boolean): void;
  /** One AdamW step into pOut, mOut, vOut (see src/engine/fused.ts FusedKernel.AdamW). */
  adamw(p: F32, g: F32, m: F32, v: F32, pOut: F32, mOut: F32, vOut: F32, decay: boolean, c: number, b1: number,
    omb1: number, b2: number, omb2: number, bc2: number, eps: number, step: number): void;
  /** Address of the first element modulo 64 (pool.ts aligns large arrays with it). */
  misalignment(x: Word): number;
}

/** Directory of the llmdbg package (the one holding native/). */
export function packageRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'llmdbg') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

export function addonPath(): string | null {
  if (process.env.LLMDBG_NATIVE_PATH) return process.env.LLMDBG_NATIVE_PATH;
  const root = packageRoot();
  return root ? path.join(root, 'native', 'build', 'Release', 'llmdbg_native.node') : null;
}

let cached: { addon: NativeAddon; path: string } | { error: string } | undefined;

/** Loads the addon once; never throws. */
export function loadAddon(): { addon: NativeAddon; path: string } | { error: string } {
  if (cached) return cached;
  const p = addonPath();
  if (!p || !fs.existsSync(p)) {
    cached = { error: `native addon not built (${p ?? 'package root not found'})` };
    return cached;
  }
  // OpenBLAS workers otherwise busy-wait ~0.1 s after each call and would
  // fight our element-wise pool for the same cores. Read when OpenBLAS loads.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  try {
    const require = createRequire(import.meta.url);
    cached = { addon: require(p) as NativeAddon, path: p };
  } catch (e) {
    cached = { error: `native addon failed to load: ${String((e as Error)?.message ?? e).split('\n')[0]}` };
  }
  return cached;
}
