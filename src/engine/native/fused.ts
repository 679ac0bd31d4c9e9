// fused.ts — the native implementations of the fused kernels named in ../fused.ts.
//
// Purpose: tanh GELU and LayerNorm (forward, input gradient, parameter
// gradients) as one addon call each instead of 7-20 element-wise kernels.
// Unlike the other native kernels these have no 'cpu' twin to fall back to,
// so a non-float32 input is an error (model code only passes float32).
// Non-goals: registering them anywhere but the native backend (other backends
// run the model's composite ops; see ../fused.ts).
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import type { NativeAddon } from './addon.js';
import { allocF32 } from './pool.js';
import { f32, sizeOf, type KernelArgs } from './util.js';
import { FusedKernel, type AdamWConstants } from '../fused.js';

type Impl = (addon: NativeAddon, args: KernelArgs) => TensorInfo | TensorInfo[];

function values(backend: MathBackendCPU, t: TensorInfo | undefined, kernel: string, name: string): Float32Array {
  if (!t) throw new Error(`${kernel}: missing input '${name}'`);
  const v = f32(backend, t) ?? (t.dtype === 'float32' ? (backend.readSync(t.dataId) as Float32Array) : null);
  if (!(v instanceof Float32Array)) throw new Error(`${kernel}: input '${name}' must be float32, got ${t.dtype}`);
  return v;
}

/** Rows and width of a [..., C] tensor normalised over its last axis, checked against w. */
function lnDims(x: TensorInfo, w: TensorInfo, kernel: string): [number, number] {
  const n = x.shape[x.shape.length - 1] ?? 1;
  if (sizeOf(w.shape) !== n) throw new Error(`${kernel}: weight has ${sizeOf(w.shape)} elements, the last axis of x has ${n}`);
  return [n === 0 ? 0 : sizeOf(x.shape) / n, n];
}

const geluTanh: Impl = (addon, { inputs, backend }) => {
  const x = values(backend, inputs.x, FusedKernel.GeluTanh, 'x');
  const y = allocF32(x.length);
  addon.geluTanh(x, y);
  return backend.makeTensorInfo(inputs.x!.shape, 'float32', y);
};

const geluTanhGrad: Impl = (addon, { inputs, backend }) => {
  const x = values(backend, inputs.x, FusedKernel.GeluTanhGrad, 'x');
  const dy = values(backend, inputs.dy, FusedKernel.GeluTanhGrad, 'dy');
  const dx = allocF32(x.length);
  addon.geluTanhGrad(x, dy, dx);
  return backend.makeTensorInfo(inputs.x!.shape, 'float32', dx);
};

const layerNorm: Impl = (addon, { inputs, backend, attrs }) => {
  const k = FusedKernel.LayerNorm;
  const [rows, n] = lnDims(inputs.x!, inputs.w!, k);
  const x = values(backend, inputs.x, k, 'x');
  const w = values(backend, inputs.w, k, 'w');
  const b = inputs.b ? values(backend, inputs.b, k, 'b') : null;
  const y = allocF32(x.length);
  addon.layerNorm(x, w, b, y, rows, n, Number(attrs?.eps));
  return backend.makeTensorInfo(inputs.x!.shape, 'float32', y);
};

/** attrs.output picks the one gradient computed: 'dx' (default), 'dw' or 'db'. */
const layerNormGrad: Impl = (addon, { inputs, backend, attrs }) => {
  const k = FusedKernel.LayerNormGrad;
  const [rows, n] = lnDims(inputs.x!, inputs.w!, k);
  const x = values(backend, inputs.x, k, 'x');
  const w = values(backend, inputs.w, k, 'w');
  const dy = values(backend, inputs.dy, k, 'dy');
  const output = String(attrs?.output ?? 'dx');
  if (output === 'dx') {
    const dx = allocF32(x.length);
    addon.layerNormGrad(x, w, dy, dx, null, null, rows, n, Number(attrs?.eps));
    return backend.makeTensorInfo(inputs.x!.shape, 'float32', dx);
  }
  if (output !== 'dw' && output !== 'db') throw new Error(`${k}: output must be 'dx', 'dw' or 'db', got '${output}'`);
  const d = new Float32Array(n);
  addon.layerNormGrad(x, w, dy, null, output === 'dw' ? d : null, output === 'db' ? d : null, rows, n, Number(attrs?.eps));
  return backend.makeTensorInfo([n], 'float32', d);
};

const adamW: Impl = (addon, { inputs, backend, attrs }) => {
  const k = FusedKernel.AdamW;
  const [p, g, m, v] = (['p', 'g', 'm', 'v'] as const).map((n) => values(backend, inputs[n], k, n));
  const n = p!.length;
  if (g!.length !== n || m!.length !== n || v!.length !== n) throw new Error(`${k}: p, g, m and v must have the same size`);
  const [po, mo, vo] = [allocF32(n), allocF32(n), allocF32(n)];
  const a = attrs as unknown as AdamWConstants;
  addon.adamw(p!, g!, m!, v!, po, mo, vo, a.decay, a.c, a.b1, a.omb1, a.b2, a.omb2, a.bc2, a.eps, a.step);
  const shape = inputs.p!.shape;
  return [backend.makeTensorInfo(shape, 'float32', po), backend.makeTensorInfo(shape, 'float32', mo), backend.makeTensorInfo(shape, 'float32', vo)];
};

function ropeImpl(grad: boolean): Impl {
  return (addon, { inputs, backend }) => {
    const k = grad ? FusedKernel.RopeGrad : FusedKernel.Rope;
    const xt = (grad ? inputs.dy : inputs.x)!;
    if (xt.shape.length !== 4) throw new Error(`${k}: input must be [B, T, N, D], got [${xt.shape}]`);
    const [B, T, N, D] = xt.shape as [number, number, number, number];
    const x = values(backend, xt, k, grad ? 'dy' : 'x');
    const cos = values(backend, inputs.cos, k, 'cos');
    const sin = values(backend, inputs.sin, k, 'sin');
    if (cos.length !== T * D || sin.length !== T * D || D % 2 !== 0) throw new Error(`${k}: cos and sin must be [${T}, ${D}] with an even D`);
    const y = allocF32(x.length);
    addon.rope(x, cos, sin, y, B, T, N, D, grad);
    return backend.makeTensorInfo(xt.shape, 'float32', y);
  };
}

/** Fused kernel name -> native implementation. */
export const FUSED_NATIVE_KERNELS: Record<string, Impl> = {
  [FusedKernel.GeluTanh]: geluTanh,
  [FusedKernel.GeluTanhGrad]: geluTanhGrad,
  [FusedKernel.LayerNorm]: layerNorm,
  [FusedKernel.LayerNormGrad]: layerNormGrad,
  [FusedKernel.AdamW]: adamW,
  [FusedKernel.Rope]: ropeImpl(false),
  [FusedKernel.RopeGrad]: ropeImpl(true),
};
