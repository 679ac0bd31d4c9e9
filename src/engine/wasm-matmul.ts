/**
 * BatchMatMul for the WASM backend. By default products run in llmdbg's own SIMD kernel
 * (src/engine/wasm-gemm.ts, native/wasm/gemm.c) on tfjs' memory: any operand transposed, batch
 * items broadcast, and no copy of any operand kept. tfjs-backend-wasm 4.22's stock kernel sends a
 * product to XNNPACK only when neither operand is transposed and the batch is 1 (else a scalar
 * loop, ~8x slower), and XNNPACK keeps a packed copy of the right-hand operand, cached by tensor id
 * until it is disposed: every weight then lived in the WASM heap twice.
 * `setWasmMatMul('xnnpack')` restores the earlier route through XNNPACK (for comparisons in
 * bench/whatif.ts; also the fallback when gemm.wasm cannot be loaded), with two rules:
 *  1. weight on the left: `a b^T` with a 2-D (or batch-1) `b` larger than `a` runs as `(b a^T)^T`
 *     (`a`'s batch rows stacked into one matrix), so XNNPACK neither copies nor packs `b`;
 *  2. otherwise transposed operands are transposed explicitly first, then the plain product runs.
 * Non-goals: other backends (untouched) and fused matmuls (the WASM forward does not use them).
 */
import * as tf from '@tensorflow/tfjs-core';
import { wasmGemm, type EmscriptenLike } from './wasm-gemm.js';

interface WasmBackendLike {
  disposeData(dataId: object): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  wasm: EmscriptenLike;
}

type KernelFn = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
const batchOf = (shape: readonly number[]) => size(shape.slice(0, -2));

/**
 * True when `matMul(a, b, false, true)` runs faster and without a weight copy as `(b a^T)^T`:
 * `b` has no batch (2-D or all batch axes 1) and holds more elements than `a` (of any batch, whose
 * rows are stacked). `transposeA` products take rule 2 (gradients.ts never asks for them on WASM).
 */
export function weightOnLeftApplies(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): boolean {
  if (transposeA || !transposeB || aShape.length < 2 || bShape.length < 2) return false;
  return batchOf(bShape) === 1 && size(bShape) > size(aShape);
}

let installed = false;
let weightOnLeft = true;
export type WasmMatMulRoute = 'llmdbg' | 'xnnpack';
let route: WasmMatMulRoute = 'llmdbg';
let loadError: Error | undefined;

/** Turns rule 1 of the XNNPACK route off or on (process-wide); for benchmarks (bench/whatif.ts). */
export function setWeightOnLeft(enabled: boolean): void {
  weightOnLeft = enabled;
}

/** Chooses the route of WASM products (process-wide): llmdbg's kernel (default) or XNNPACK's. */
export function setWasmMatMul(r: WasmMatMulRoute): void {
  route = r;
}

/**
 * True when `matMul(x, w, false, true)` is much slower than a plain product on `backend`, so that
 * keeping a transposed copy of the unembedding pays (the CPU backend, and WASM on the XNNPACK route).
 */
export function transposedProductsAreSlow(backend: string): boolean {
  if (backend === 'cpu') return true;
  return backend === 'wasm' && wasmMatMulRoute().route === 'xnnpack';
}

/** The route products take now, and why llmdbg's kernel is not used when it could not be loaded. */
export function wasmMatMulRoute(): { route: WasmMatMulRoute; loadError?: string } {
  return loadError ? { route: 'xnnpack', loadError: loadError.message } : { route };
}

/**
 * One product in llmdbg's kernel, or null when the batch axes broadcast in a way it does not take
 * (both operands batched with different sizes): the XNNPACK route then runs.
 */
function ownProduct(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transA: boolean,
  transB: boolean,
  backend: WasmBackendLike,
  transpose: (x: tf.TensorInfo, backend: unknown) => tf.TensorInfo,
): tf.TensorInfo | null {
  const gemm = wasmGemm(backend.wasm);
  if (gemm instanceof Error) {
    loadError = gemm;
    return null;
  }
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const Ka = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const Kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const N = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  tf.util.assert(Ka === Kb, () => `Error in matMul: inner shapes (${Ka}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transA} and transposeB=${transB} must match.`);
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = batchOf(a.shape);
  const batchB = batchOf(b.shape);
  const batch = size(outer);
  if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return null;
  const out = backend.makeOutput([...outer, M, N], 'float32');
  if (M * N * batch === 0) return out;
  let aIn = a;
  let transposedA: tf.TensorInfo | undefined;
  if (transA && transB) {
    transposedA = transpose(a, backend); // the kernel takes A^T only with a plain B
    aIn = transposedA;
    transA = false;
  }
  const offset = (x: tf.TensorInfo) => backend.dataIdMap.get(x.dataId)!.memoryOffset;
  const sA = batchA === 1 ? 0 : M * Ka;
  const sB = batchB === 1 ? 0 : Ka * N;
  gemm(offset(aIn), offset(b), offset(out), batch, M, N, Ka, transA ? 1 : 0, transB ? 1 : 0, sA, sB);
  if (transposedA) backend.disposeData(transposedA.dataId);
  return out;
}

/** Replaces the WASM BatchMatMul kernel with the version above; idempotent, no-op without WASM. */
export function registerFastWasmMatMul(): void {
  if (installed) return;
  const origCfg = tf.getKernel(tf.BatchMatMul, 'wasm');
  const transposeCfg = tf.getKernel(tf.Transpose, 'wasm');
  if (!origCfg || !transposeCfg) return;
  installed = true;
  if (process.env['LLMDBG_WASM_MATMUL'] === 'xnnpack') route = 'xnnpack';
  // Load the kernel now when WASM is the active backend (tf.findBackend would start initialising
  // an inactive one, which breaks the active backend until it finishes); else on the first product.
  if (tf.getBackend() === 'wasm') {
    const wasmBackend = tf.backend() as unknown as WasmBackendLike;
    const loaded = wasmGemm(wasmBackend.wasm);
    if (loaded instanceof Error) loadError = loaded;
  }
  const orig = origCfg.kernelFunc as unknown as KernelFn;
  const transposeK = transposeCfg.kernelFunc as unknown as KernelFn;
  const swapLast = (rank: number) => {
    const perm = [...Array(rank).keys()];
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return perm;
  };
  /** A fresh transposed copy (never a view: XNNPACK caches packed right operands by tensor id, not by shape). */
  const transpose = (x: tf.TensorInfo, backend: unknown) =>
    transposeK({ inputs: { x }, backend, attrs: { perm: swapLast(x.shape.length) } }) as tf.TensorInfo;
  const view = (x: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: x.dataId, shape, dtype: x.dtype });

  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel({
    kernelName: tf.BatchMatMul,
    backendName: 'wasm',
    ...(origCfg.setupFunc ? { setupFunc: origCfg.setupFunc } : {}),
    kernelFunc: ({ inputs, backend, attrs }) => {
      let { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const dispose = (t: tf.TensorInfo) => (backend as unknown as WasmBackendLike).disposeData(t.dataId);
      if (route === 'llmdbg' && !loadError && a.dtype === 'float32' && b.dtype === 'float32') {
        const out = ownProduct(a, b, transposeA, transposeB, backend as unknown as WasmBackendLike, transpose);
        if (out) return out;
      }
      if (weightOnLeft && weightOnLeftApplies(a.shape, b.shape, transposeA, transposeB) && a.dtype === 'float32' && b.dtype === 'float32') {
        const rb = b.shape.length;
        const K = b.shape[rb - 1]!;
        const N = b.shape[rb - 2]!;
        const M = a.shape[a.shape.length - 2]!;
        const rows = size(a.shape) / K; // every row of a: batch x M
        tf.util.assert(a.shape[a.shape.length - 1] === K, () => `Error in matMul: inner shapes of [${a.shape}] and [${b.shape}] (transposeB=true) must match.`);
        const aT = transpose(view(a, [rows, K]), backend); // [K, rows], fresh even when rows = 1
        const prod = orig({ inputs: { a: view(b, [N, K]), b: aT }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo; // [N, rows]
        dispose(aT);
        let out = prod;
        if (rows > 1 && N > 1) {
          out = transpose(view(prod, [N, rows]), backend); // [rows, N]
          dispose(prod);
        }
        const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
        return { dataId: out.dataId, shape: [...outer, M, N], dtype: out.dtype };
      }
      const temps: tf.TensorInfo[] = [];
      if (transposeA) {
        a = transpose(a, backend);
        temps.push(a);
      }
      if (transposeB) {
        b = transpose(b, backend);
        temps.push(b);
      }
      const out = orig({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      for (const t of temps) dispose(t);
      return out;
    },
  });
}
