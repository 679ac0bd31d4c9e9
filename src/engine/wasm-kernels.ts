/**
 * Kernels that the WASM backend lacks but llmdbg needs, written in plain TypeScript over the
 * backend's own memory. `UnsortedSegmentSum` is the gradient of `gather` (embedding lookups), so
 * training and gradients with respect to the embedding table work on WASM. Also installs the
 * data-sharing `Identity` (wasm-identity.ts), which replaces a stock kernel that copies.
 * Non-goal: speed; these run rarely and on small tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerSharedWasmIdentity } from './wasm-identity.js';

interface WasmLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

let registered = false;

export function registerMissingWasmKernels(): void {
  if (registered) return;
  registered = true;
  registerSharedWasmIdentity();
  const have = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  if (!have.has(tf.UnsortedSegmentSum)) {
    tf.registerKernel({
      kernelName: tf.UnsortedSegmentSum,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
        const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
        const b = backend as unknown as WasmLike;
        const xv = b.readSync(x.dataId);
        const ids = b.readSync(segmentIds.dataId);
        // x: [N, ...inner] with segmentIds [N] (tfjs reshapes higher ranks before calling the kernel)
        const n = segmentIds.shape.reduce((a, d) => a * d, 1);
        const inner = n === 0 ? 0 : xv.length / n;
        const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
        const out = b.makeOutput(outShape, x.dtype);
        const ov = b.typedArrayFromHeap(out);
        ov.fill(0);
        for (let i = 0; i < n; i++) {
          const s = ids[i]!;
          if (s < 0 || s >= numSegments) continue;
          const src = i * inner;
          const dst = s * inner;
          for (let j = 0; j < inner; j++) ov[dst + j] += xv[src + j]!;
        }
        return out;
      },
    });
  }
}
