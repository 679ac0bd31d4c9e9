// matmul.ts — BatchMatMul and _FusedMatMul on the native BLAS path.
//
// Purpose: shape logic identical to tfjs (transposes, broadcast batch dims),
// then one addon.gemm call (stride 0 for a broadcast operand) or, for
// general batch broadcasting, one call per output batch. _FusedMatMul adds a
// bias row inside the GEMM (beta = 1) and applies the activation in place.
// Non-goals: int32 matmul (cpu fallback).
import { backend_util, broadcast_util, util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { BinaryOp, UnaryOp, type NativeAddon } from './addon.js';
import { allocF32 } from './pool.js';
import { f32, sameShape, sizeOf, type KernelArgs } from './util.js';

interface Plan {
  m: number;
  n: number;
  k: number;
  outer: number[];
  batch: number;
  outShape: number[];
}

function plan(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean): Plan {
  const ar = a.shape.length;
  const br = b.shape.length;
  const kA = transA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kB = transB ? b.shape[br - 1] : b.shape[br - 2];
  const m = transA ? a.shape[ar - 1] : a.shape[ar - 2];
  const n = transB ? b.shape[br - 2] : b.shape[br - 1];
  util.assert(kA === kB, () =>
    `Error in matMul: inner shapes (${kA}) and (${kB}) of Tensors with shapes ${a.shape} and ` +
    `${b.shape} and transposeA=${transA} and transposeB=${transB} must match.`);
  const outer = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { m, n, k: kA, outer, batch: sizeOf(outer), outShape: [...outer, m, n] };
}

/** Flat batch index of `shape` (right-aligned, broadcast) for output batch index bi. */
function batchIndex(bi: number, outer: number[], shape: number[]): number {
  let idx = 0;
  let stride = 1;
  let rem = bi;
  for (let d = outer.length - 1, s = shape.length - 1; d >= 0; d--, s--) {
    const coord = rem % outer[d];
    rem = Math.floor(rem / outer[d]);
    if (s >= 0) {
      if (shape[s] !== 1) idx += coord * stride;
      stride *= shape[s];
    }
  }
  return idx;
}

function runGemm(addon: NativeAddon, a: TensorInfo, av: Float32Array, b: TensorInfo, bv: Float32Array,
  p: Plan, transA: boolean, transB: boolean, biasRow: Float32Array | null): Float32Array {
  const { m, n, k, batch, outer } = p;
  const out = allocF32(batch * m * n);
  if (out.length === 0) return out;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  if (batch > 1 && batchA === batch && batchB === 1 && !transA) {
    // [batch, m, k] x [k, n]: one GEMM with batch*m rows (A and C are contiguous).
    addon.gemm(av, bv, out, 1, batch * m, n, k, false, transB, 0, 0, biasRow);
    return out;
  }
  if ((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1)) {
    addon.gemm(av, bv, out, batch, m, n, k, transA, transB, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, biasRow);
    return out;
  }
  for (let bi = 0; bi < batch; bi++) {
    const ia = batchIndex(bi, outer, outerA);
    const ib = batchIndex(bi, outer, outerB);
    addon.gemm(av.subarray(ia * m * k, (ia + 1) * m * k), bv.subarray(ib * k * n, (ib + 1) * k * n),
      out.subarray(bi * m * n, (bi + 1) * m * n), 1, m, n, k, transA, transB, 0, 0, biasRow);
  }
  return out;
}

export function batchMatMul(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { a, b } = inputs;
  const transA = Boolean(attrs?.transposeA);
  const transB = Boolean(attrs?.transposeB);
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (!av || !bv) return null;
  const p = plan(a, b, transA, transB);
  return backend.makeTensorInfo(p.outShape, 'float32', runGemm(addon, a, av, b, bv, p, transA, transB, null));
}

const ACTIVATIONS: Record<string, number | null> = {
  linear: null, relu: UnaryOp.Relu, relu6: UnaryOp.Relu6, elu: UnaryOp.Elu, sigmoid: UnaryOp.Sigmoid,
  leakyrelu: UnaryOp.LeakyRelu,
};

/** Adds `t` (broadcast) into out in place when the shapes allow it, else returns a new array. */
function addInto(addon: NativeAddon, backend: MathBackendCPU, op: number, out: Float32Array, shape: number[],
  t: TensorInfo): { values: Float32Array; shape: number[] } | null {
  const tv = f32(backend, t);
  if (!tv) return null;
  const bshape = backend_util.assertAndGetBroadcastShape(shape, t.shape);
  const dst = sameShape(bshape, shape) ? out : allocF32(sizeOf(bshape));
  if (!addon.binary(op, out, shape, tv, t.shape, dst, bshape)) return null;
  return { values: dst, shape: bshape };
}

export function fusedMatMul(addon: NativeAddon, { inputs, backend, attrs }: KernelArgs): TensorInfo | null {
  const { a, b } = inputs;
  const bias: TensorInfo | undefined = inputs.bias;
  const preluActivationWeights: TensorInfo | undefined = inputs.preluActivationWeights;
  const transA = Boolean(attrs?.transposeA);
  const transB = Boolean(attrs?.transposeB);
  const activation = String(attrs?.activation ?? 'linear');
  const av = f32(backend, a);
  const bv = f32(backend, b);
  if (!av || !bv) return null;
  if (!(activation in ACTIVATIONS) && activation !== 'prelu') return null;
  if (activation === 'prelu' && !f32(backend, preluActivationWeights)) return null;
  const p = plan(a, b, transA, transB);

  // A bias that is a row of N values (or a scalar) goes into the GEMM itself.
  let biasRow: Float32Array | null = null;
  let postBias = false;
  if (bias) {
    const bvals = f32(backend, bias);
    if (!bvals) return null;
    const grows = !sameShape(backend_util.assertAndGetBroadcastShape(p.outShape, bias.shape), p.outShape);
    const size = sizeOf(bias.shape);
    if (!grows && size === p.n && bias.shape[bias.shape.length - 1] === p.n) biasRow = bvals;
    else if (!grows && size === 1) biasRow = new Float32Array(p.n).fill(bvals[0]);
    else postBias = true;
  }
  let values = runGemm(addon, a, av, b, bv, p, transA, transB, biasRow);
  let shape = p.outShape;
  if (postBias && bias) {
    const r = addInto(addon, backend, BinaryOp.Add, values, shape, bias);
    if (!r) return null;
    ({ values, shape } = r);
  }
  if (activation === 'prelu' && preluActivationWeights) {
    const r = addInto(addon, backend, BinaryOp.Prelu, values, shape, preluActivationWeights);
    if (!r) return null;
    ({ values, shape } = r);
  } else {
    const op = ACTIVATIONS[activation];
    if (op != null) addon.unary(op, values, values, Number(attrs?.leakyreluAlpha ?? 0.2));
  }
  return backend.makeTensorInfo(shape, 'float32', values);
}
