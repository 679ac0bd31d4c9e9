// util.ts — shared helpers for the native tfjs kernels.
//
// Purpose: typed access to MathBackendCPU storage and the "return null to
// fall back to the cpu kernel" convention used by every native kernel.
// Non-goals: dtype conversion (non-float32 inputs go to the cpu kernels).
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { allocF32 } from './pool.js';

export interface KernelArgs {
  /** Optional inputs (e.g. a fused bias) may be absent at runtime. */
  inputs: Record<string, TensorInfo>;
  backend: MathBackendCPU;
  attrs?: NamedAttrMap;
}

/** A native kernel: returns null when the cpu kernel should handle the call. */
export type NativeKernel = (addon: NativeAddon, args: KernelArgs) => TensorInfo | TensorInfo[] | null;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Float32 storage of a float32 tensor, or null (other dtype / layout). */
export function f32(backend: MathBackendCPU, t: TensorInfo | undefined): Float32Array | null {
  if (!t || t.dtype !== 'float32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Float32Array && v.length === sizeOf(t.shape) ? v : null;
}

/** 4-byte storage (float32 or int32) for pure data-movement kernels. */
export function word(backend: MathBackendCPU, t: TensorInfo | undefined): Float32Array | Int32Array | null {
  if (!t || (t.dtype !== 'float32' && t.dtype !== 'int32')) return null;
  const v = backend.data.get(t.dataId)?.values;
  if (!v || (v as ArrayLike<number>).length !== sizeOf(t.shape)) return null;
  if (t.dtype === 'float32' && v instanceof Float32Array) return v;
  if (t.dtype === 'int32' && v instanceof Int32Array) return v;
  return null;
}

export function i32(backend: MathBackendCPU, t: TensorInfo | undefined): Int32Array | null {
  if (!t || t.dtype !== 'int32') return null;
  const v = backend.data.get(t.dataId)?.values;
  return v instanceof Int32Array && v.length === sizeOf(t.shape) ? v : null;
}

export function newLike(v: Float32Array | Int32Array, n: number): Float32Array | Int32Array {
  return v instanceof Float32Array ? allocF32(n) : new Int32Array(n);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
