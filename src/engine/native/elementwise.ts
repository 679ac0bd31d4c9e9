// elementwise.ts — unary, binary (broadcasting) and AddN kernels.
//
// Purpose: float32 element-wise tfjs kernels on the native addon. The
// broadcast output shape is computed with tfjs' own helper so shape errors
// read exactly like the cpu backend's.
// Non-goals: int32/bool/complex inputs, comparison ops producing bool
// (all handled by the cpu kernels via the null fallback).
import { backend_util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { BinaryOp, UnaryOp, type NativeAddon } from './addon.js';
import { allocF32 } from './pool.js';
import { f32, sizeOf, type KernelArgs, type NativeKernel } from './util.js';

/** tfjs kernel name -> [unary op, attr holding alpha]. */
export const UNARY_KERNELS: Record<string, [number, string?]> = {
  Exp: [UnaryOp.Exp], Log: [UnaryOp.Log], Sqrt: [UnaryOp.Sqrt], Rsqrt: [UnaryOp.Rsqrt],
  Tanh: [UnaryOp.Tanh], Sigmoid: [UnaryOp.Sigmoid], Erf: [UnaryOp.Erf], Neg: [UnaryOp.Neg],
  Square: [UnaryOp.Square], Abs: [UnaryOp.Abs], Relu: [UnaryOp.Relu], Relu6: [UnaryOp.Relu6],
  Elu: [UnaryOp.Elu], LeakyRelu: [UnaryOp.LeakyRelu, 'alpha'], Reciprocal: [UnaryOp.Reciprocal],
  Softplus: [UnaryOp.Softplus], Sin: [UnaryOp.Sin], Cos: [UnaryOp.Cos], Log1p: [UnaryOp.Log1p],
  Expm1: [UnaryOp.Expm1], Step: [UnaryOp.Step, 'alpha'], Selu: [UnaryOp.Selu],
};

/** tfjs kernel name -> [binary op, name of first input, name of second input]. */
export const BINARY_KERNELS: Record<string, [number, string, string]> = {
  Add: [BinaryOp.Add, 'a', 'b'], Sub: [BinaryOp.Sub, 'a', 'b'], Multiply: [BinaryOp.Mul, 'a', 'b'],
  RealDiv: [BinaryOp.Div, 'a', 'b'], Maximum: [BinaryOp.Max, 'a', 'b'], Minimum: [BinaryOp.Min, 'a', 'b'],
  SquaredDifference: [BinaryOp.SquaredDifference, 'a', 'b'], Pow: [BinaryOp.Pow, 'a', 'b'],
  Prelu: [BinaryOp.Prelu, 'x', 'alpha'],
};

export function unaryKernel(op: number, alphaAttr?: string): NativeKernel {
  return (addon, { inputs, backend, attrs }: KernelArgs) => {
    const x = inputs.x;
    const xv = f32(backend, x);
    if (!xv) return null;
    const out = allocF32(xv.length);
    addon.unary(op, xv, out, alphaAttr ? Number(attrs?.[alphaAttr] ?? 0) : 0);
    return backend.makeTensorInfo(x.shape, 'float32', out);
  };
}

export function binaryKernel(op: number, aName: string, bName: string): NativeKernel {
  return (addon, { inputs, backend }: KernelArgs) => {
    const a = inputs[aName];
    const b = inputs[bName];
    const av = f32(backend, a);
    const bv = f32(backend, b);
    if (!av || !bv) return null;
    const shape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = allocF32(sizeOf(shape));
    if (!addon.binary(op, av, a.shape, bv, b.shape, out, shape)) return null;
    return backend.makeTensorInfo(shape, 'float32', out);
  };
}

export function addN(addon: NativeAddon, { inputs, backend }: KernelArgs): TensorInfo | null {
  const list = Object.values(inputs) as TensorInfo[];
  if (list.length === 0) return null;
  const vals: Float32Array[] = [];
  for (const t of list) {
    const v = f32(backend, t);
    if (!v || v.length !== sizeOf(list[0].shape)) return null;
    vals.push(v);
  }
  const shape = list[0].shape;
  const out = allocF32(sizeOf(shape));
  if (vals.length === 1) {
    out.set(vals[0]);
  } else {
    addon.binary(BinaryOp.Add, vals[0], shape, vals[1], shape, out, shape);
    for (let i = 2; i < vals.length; i++) addon.binary(BinaryOp.Add, out, shape, vals[i], shape, out, shape);
  }
  return backend.makeTensorInfo(shape, 'float32', out);
}
