// reduce.ts — Sum / Mean / Max / Min / Prod and Softmax kernels.
//
// Purpose: view the input as [outer, reduced, inner] when the reduced axes
// form one block (ignoring size-1 dims), else transpose them innermost
// natively first, then reduce with one addon call.
// Non-goals: int32/bool reductions (cpu fallback), ArgMax/ArgMin, Any/All.
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { ReduceOp, type NativeAddon } from './addon.js';
import { allocF32, release } from './pool.js';
import { f32, sizeOf, type KernelArgs, type NativeKernel } from './util.js';

export const REDUCE_KERNELS: Record<string, [number, string]> = {
  Sum: [ReduceOp.Sum, 'axis'], Mean: [ReduceOp.Mean, 'axis'], Max: [ReduceOp.Max, 'reductionIndices'],
  Min: [ReduceOp.Min, 'axis'], Prod: [ReduceOp.Prod, 'axis'],
};

export function reduceKernel(op: number, axisAttr: string): NativeKernel {
  return (addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null => {
    const x = inputs.x;
    const xv = f32(backend, x);
    if (!xv) return null;
    const shape = x.shape;
    const axes = [...new Set(util.parseAxisParam(attrs?.[axisAttr] as number | number[], shape))].sort((p, q) => p - q);
    const [outShape, reduceShape] = backend_util.computeOutAndReduceShapes(shape, axes);
    const outSize = sizeOf(outShape);
    const r = sizeOf(reduceShape);
    const out = allocF32(outSize);
    const finalShape = attrs?.keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    if (axes.length === 0) {
      out.set(xv.subarray(0, outSize));
      return backend.makeTensorInfo(finalShape, 'float32', out);
    }
    const lo = axes[0];
    const hi = axes[axes.length - 1];
    let block = true;
    for (let d = lo; d <= hi; d++) if (!axes.includes(d) && shape[d] !== 1) block = false;
    if (block) {
      addon.reduce(op, xv, out, sizeOf(shape.slice(0, lo)), r, sizeOf(shape.slice(hi + 1)));
    } else {
      const perm = [...shape.keys()].filter((d) => !axes.includes(d)).concat(axes);
      const t = allocF32(xv.length);
      addon.transpose(xv, t, shape, perm);
      addon.reduce(op, t, out, outSize, r, 1);
      release(t);
    }
    return backend.makeTensorInfo(finalShape, 'float32', out);
  };
}

export function softmax(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const x = inputs.logits;
  const xv = f32(backend, x);
  const rank = x.shape.length;
  const dim = Number(attrs?.dim ?? -1);
  if (!xv || rank === 0 || (dim !== -1 && dim !== rank - 1)) return null;
  const n = x.shape[rank - 1];
  const out = allocF32(xv.length);
  if (n > 0) addon.softmax(xv, out, xv.length / n, n);
  return backend.makeTensorInfo(x.shape, 'float32', out);
}
