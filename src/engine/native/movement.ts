// movement.ts — GatherV2, UnsortedSegmentSum, Transpose, Slice, SplitV, Concat, Tile.
//
// Purpose: data movement for float32/int32 tensors on the native addon.
// UnsortedSegmentSum (the gradient of GatherV2, i.e. of the embedding
// lookup) is O(size) here instead of O(numSegments * size) on 'cpu'.
// Slice/SplitV keep the cpu backend's zero-copy subarray for contiguous
// slices and use a native strided copy otherwise.
// Non-goals: GatherV2 with batchDims > 0, string tensors (cpu fallback).
import { backend_util, slice_util, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { allocF32, escape } from './pool.js';
import { f32, i32, newLike, sizeOf, word, type KernelArgs } from './util.js';

export function gatherV2(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x, indices } = inputs;
  const batchDims = Number(attrs?.batchDims ?? 0);
  const xv = word(backend, x);
  const iv = i32(backend, indices);
  if (!xv || !iv || batchDims !== 0) return null;
  const axis = util.parseAxisParam(attrs?.axis as number, x.shape)[0];
  const dim = x.shape[axis];
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  const out = newLike(xv, sizeOf(outShape));
  const bad = addon.gather(xv, iv, out, outer, dim, inner);
  if (bad >= 0) throw new Error(`GatherV2: the index value ${iv[bad]} is not in [0, ${dim - 1}]`);
  return backend.makeTensorInfo(outShape, x.dtype, out);
}

export function unsortedSegmentSum(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { x, segmentIds } = inputs;
  const xv = f32(backend, x);
  const ids = i32(backend, segmentIds);
  const numSegments = Number(attrs?.numSegments);
  if (!xv || !ids || x.shape.length === 0 || segmentIds.shape.length !== 1) return null;
  const rows = x.shape[0];
  if (ids.length !== rows) return null;
  const inner = sizeOf(x.shape.slice(1));
  const out = allocF32(numSegments * inner, true);
  addon.segmentSum(xv, ids, out, rows, inner, numSegments);
  return backend.makeTensorInfo([numSegments, ...x.shape.slice(1)], 'float32', out);
}

export function transpose(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const x = inputs.x;
  const xv = word(backend, x);
  const perm = attrs?.perm as number[];
  if (!xv || !perm || perm.length !== x.shape.length) return null;
  const outShape = perm.map((p) => x.shape[p]);
  const out = newLike(xv, xv.length);
  addon.transpose(xv, out, x.shape, perm);
  return backend.makeTensorInfo(outShape, x.dtype, out);
}

function sliceInto(addon: NativeAddon, backend: MathBackendCPU, x: TensorInfo, xv: Float32Array | Int32Array,
  begin: number[], size: number[]): TensorInfo {
  if (slice_util.isSliceContinous(x.shape, begin, size)) {
    // Same as the cpu kernel: a zero-copy view into the input's storage.
    const off = slice_util.computeFlatOffset(begin, util.computeStrides(x.shape));
    escape(xv);  // the view shares xv's buffer: never recycle it
    return backend.makeTensorInfo(size, x.dtype, xv.subarray(off, off + sizeOf(size)));
  }
  const out = newLike(xv, sizeOf(size));
  addon.slice(xv, out, x.shape, begin, size);
  return backend.makeTensorInfo(size, x.dtype, out);
}

export function slice(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const x = inputs.x;
  const xv = word(backend, x);
  if (!xv) return null;
  const [begin, size] = slice_util.parseSliceParams(x, attrs?.begin as number[], attrs?.size as number[]);
  slice_util.assertParamsValid(x, begin, size);
  return sliceInto(addon, backend, x, xv, begin, size);
}

export function splitV(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo[] | null {
  const x = inputs.x;
  const xv = word(backend, x);
  if (!xv) return null;
  const axis = util.parseAxisParam(attrs?.axis as number, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x, attrs?.numOrSizeSplits as number[] | number, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[axis] = s;
    const t = sliceInto(addon, backend, x, xv, [...begin], size);
    begin[axis] += s;
    return t;
  });
}

export function concat(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const list = Object.values(inputs) as TensorInfo[];
  if (list.length < 2) return null;
  const axis = util.parseAxisParam(attrs?.axis as number, list[0].shape)[0];
  backend_util.assertParamsConsistent(list.map((t) => t.shape), axis);
  const outShape = backend_util.computeOutShape(list.map((t) => t.shape), axis);
  const nonEmpty = list.filter((t) => sizeOf(t.shape) > 0);
  if (nonEmpty.length < 2) return null;  // cpu returns a zero-copy identity / empty tensor
  const vals: (Float32Array | Int32Array)[] = [];
  for (const t of nonEmpty) {
    const v = word(backend, t);
    if (!v || t.dtype !== list[0].dtype) return null;
    vals.push(v);
  }
  const outer = sizeOf(outShape.slice(0, axis));
  const out = newLike(vals[0], sizeOf(outShape));
  addon.concat(vals, nonEmpty.map((t) => sizeOf(t.shape.slice(axis))), out, outer);
  return backend.makeTensorInfo(outShape, list[0].dtype, out);
}

/**
 * Tile (also what tf.broadcastTo runs): copies of the input's innermost rows, then of whole
 * blocks with copyWithin, outermost dimension last. The cpu kernel walks every output element
 * through index arithmetic (GPT-2's [1, 64, 768] position embeddings to 8 rows: ~30 ms).
 */
export function tile(_addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const x = inputs.x;
  const xv = word(backend, x);
  const reps = attrs?.reps as number[] | undefined;
  const shape = x.shape;
  const rank = shape.length;
  if (!xv || !reps || reps.length !== rank || rank === 0) return null;
  const outShape = shape.map((d, i) => d * reps[i]!);
  const out = xv instanceof Float32Array ? allocF32(sizeOf(outShape)) : new Int32Array(sizeOf(outShape));
  if (out.length === 0) return backend.makeTensorInfo(outShape, x.dtype, out);
  const srcStride: number[] = new Array(rank).fill(1);
  const dstStride: number[] = new Array(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) {
    srcStride[d] = srcStride[d + 1]! * shape[d + 1]!;
    dstStride[d] = dstStride[d + 1]! * outShape[d + 1]!;
  }
  // Writes the tiled block of dims >= d for source offset s at destination offset o.
  const fill = (d: number, s: number, o: number): void => {
    const n = shape[d]!;
    if (d === rank - 1) {
      out.set(xv.subarray(s, s + n), o);
    } else {
      for (let i = 0; i < n; i++) fill(d + 1, s + i * srcStride[d]!, o + i * dstStride[d]!);
    }
    const block = n * dstStride[d]!;
    for (let r = 1; r < reps[d]!; r++) out.copyWithin(o + r * block, o, o + block);
  };
  fill(0, 0, 0);
  return backend.makeTensorInfo(outShape, x.dtype, out);
}
