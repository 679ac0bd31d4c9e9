/**
 * A faster BatchMatMul for the WASM backend: transposed operands are transposed explicitly first,
 * then the plain product runs. Measured here (1 thread, SIMD): [1536,128]x[128,512] with
 * transposeB 464 ms vs 60 ms transposed explicitly; transposeA is as slow. Training hits both in
 * every weight gradient and in the forward's unembedding and attention scores.
 * Non-goals: other backends (untouched) and fused matmuls (the forward does not use them).
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  disposeData(dataId: object): void;
}

let installed = false;

/** Replaces the WASM BatchMatMul kernel with the explicit-transpose version; idempotent, no-op without WASM. */
export function registerFastWasmMatMul(): void {
  if (installed) return;
  const orig = tf.getKernel(tf.BatchMatMul, 'wasm');
  const transpose = tf.getKernel(tf.Transpose, 'wasm');
  if (!orig || !transpose) return;
  installed = true;
  const swapLast = (rank: number) => {
    const perm = [...Array(rank).keys()];
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return perm;
  };
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.registerKernel({
    kernelName: tf.BatchMatMul,
    backendName: 'wasm',
    ...(orig.setupFunc ? { setupFunc: orig.setupFunc } : {}),
    kernelFunc: ({ inputs, backend, attrs }) => {
      let { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const temps: tf.TensorInfo[] = [];
      if (transposeA) {
        a = transpose.kernelFunc({ inputs: { x: a }, backend, attrs: { perm: swapLast(a.shape.length) } }) as tf.TensorInfo;
        temps.push(a);
      }
      if (transposeB) {
        b = transpose.kernelFunc({ inputs: { x: b }, backend, attrs: { perm: swapLast(b.shape.length) } }) as tf.TensorInfo;
        temps.push(b);
      }
      const out = orig.kernelFunc({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
      for (const t of temps) (backend as unknown as WasmBackendLike).disposeData(t.dataId);
      return out;
    },
  });
}
