/**
 * A WASM `Identity` kernel that shares its input's data by reference count, as the CPU backend's
 * does, instead of copying it. The engine clones (Identity) every input a recorded kernel saves
 * for the backward, so the stock kernel copied each weight once per backward pass (475 MB for
 * GPT-2 small) and XNNPACK then packed the copy again. Safe because tensors are immutable and the
 * WASM backend already shares data this way for Reshape (its `disposeData` frees at refCount 0).
 * Non-goals: string tensors (left to the stock kernel) and other backends.
 */
import * as tf from '@tensorflow/tfjs-core';

interface RefCounted {
  incRef(dataId: object): void;
}

let installed = false;
let sharing = true;

/** Turns sharing off (the stock copying kernel runs) or on, process-wide; for benchmarks (bench/whatif.ts). */
export function setIdentitySharing(enabled: boolean): void {
  sharing = enabled;
}

/** Replaces the WASM Identity kernel with the sharing one; idempotent, no-op without WASM. */
export function registerSharedWasmIdentity(): void {
  if (installed) return;
  const stock = tf.getKernel(tf.Identity, 'wasm');
  if (!stock) return;
  installed = true;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.TensorInfo }).x;
      if (!sharing || x.dtype === 'string') return stock.kernelFunc(args);
      (args.backend as unknown as RefCounted).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}
