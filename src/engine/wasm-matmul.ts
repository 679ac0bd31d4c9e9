/**
 * A faster BatchMatMul for the WASM backend. tfjs-backend-wasm 4.22 sends a product to XNNPACK only
 * when neither operand is transposed and the batch is 1 (else a scalar loop, ~8x slower), and
 * XNNPACK packs a copy of the right-hand operand, cached by its tensor id until it is disposed.
 * Two rules, in this order:
 *  1. weight on the left: `a b^T` with a 2-D (or batch-1) `b` larger than `a` runs as `(b a^T)^T`
 *     (`a`'s batch rows stacked into one matrix).
 *     `b` (typically a weight, as in every backward `dY W^T`) is then the untransposed left
 *     operand, which XNNPACK neither copies nor packs; only the small fresh `a^T` is packed.
 *  2. otherwise transposed operands are transposed explicitly first, then the plain product runs.
 * Measured here (1 thread, SIMD): [64,3072] x [768,3072]^T 73 ms -> 18 ms with rule 1;
 * [1536,128] x [128,512] with transposeB 464 ms vs 60 ms with rule 2.
 * Non-goals: other backends (untouched) and fused matmuls (the forward does not use them).
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  disposeData(dataId: object): void;
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

/** Turns rule 1 off or on (process-wide); for benchmarks that compare with and without it (bench/whatif.ts). */
export function setWeightOnLeft(enabled: boolean): void {
  weightOnLeft = enabled;
}

/** Replaces the WASM BatchMatMul kernel with the version above; idempotent, no-op without WASM. */
export function registerFastWasmMatMul(): void {
  if (installed) return;
  const origCfg = tf.getKernel(tf.BatchMatMul, 'wasm');
  const transposeCfg = tf.getKernel(tf.Transpose, 'wasm');
  if (!origCfg || !transposeCfg) return;
  installed = true;
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
