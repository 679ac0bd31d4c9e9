/**
 * Gradient functions for the kernels the forward pass and the loss use. `@tensorflow/tfjs-core`
 * alone registers none (its Node bundle leaves out `register_all_gradients`, and that ES module
 * cannot be loaded by Node), so `tf.grad` fails with "gradient function not found" until this runs.
 * Ports of tfjs-core 4.22's own gradient configs, except: BatchMatMul avoids `transposeA` on WASM
 * (explicit transpose, ~15x faster there) and Slice pads with concat (WASM has no Pad kernel).
 * Registers only kernels that have no gradient yet, so it composes with other registrations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { installLeanBackward } from './lean-backward.js';
import { registerFusedGradients } from './fused.js';

type Grad = tf.GradConfig;
const bu = tf.backend_util;

/** Sums `dy` over the axes `shape` was broadcast along, then reshapes to `shape`. */
function unbroadcast(dy: tf.Tensor, shape: number[], outShape: number[]): tf.Tensor {
  const axes = bu.getReductionAxes(shape, outShape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

function binary(kernelName: string, da: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor, db: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Grad {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved as tf.Tensor[];
      const out = bu.assertAndGetBroadcastShape(a!.shape, b!.shape);
      return { a: () => unbroadcast(da(dy as tf.Tensor, a!, b!), a!.shape, out), b: () => unbroadcast(db(dy as tf.Tensor, a!, b!), b!.shape, out) };
    },
  };
}

/** Gradient from the saved input x. */
function fromInput(kernelName: string, f: (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor): Grad {
  return { kernelName, inputsToSave: ['x'], gradFunc: (dy, saved) => ({ x: () => f(dy as tf.Tensor, (saved as tf.Tensor[])[0]!) }) };
}

/** Gradient from the saved output y. */
function fromOutput(kernelName: string, f: (dy: tf.Tensor, y: tf.Tensor) => tf.Tensor): Grad {
  return { kernelName, outputsToSave: [true], gradFunc: (dy, saved) => ({ x: () => f(dy as tf.Tensor, (saved as tf.Tensor[])[0]!) }) };
}

/** Swaps the last two axes. */
function swapLast(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/** matMul that never asks the WASM backend for transposeA (measured ~15x slower than an explicit transpose). */
function mm(a: tf.Tensor, b: tf.Tensor, tA: boolean, tB: boolean): tf.Tensor {
  if (tA && tf.getBackend() === 'wasm') return tf.matMul(swapLast(a), b, false, tB);
  return tf.matMul(a, b, tA, tB);
}

/** Sums a batched product's gradient back to an operand that was broadcast over batch axes. */
function toShape(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank - 2; i++) if (i < lead || shape[i - lead] === 1) axes.push(i);
  return tf.reshape(axes.length ? tf.sum(g, axes) : g, shape);
}

const batchMatMul: Grad = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dyIn, saved, attrs) => {
    const dy = dyIn as tf.Tensor;
    const [a, b] = saved as tf.Tensor[];
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    let ga: () => tf.Tensor;
    let gb: () => tf.Tensor;
    if (!transposeA && !transposeB) {
      ga = () => mm(dy, b!, false, true);
      gb = () => mm(a!, dy, true, false);
    } else if (!transposeA && transposeB) {
      ga = () => mm(dy, b!, false, false);
      gb = () => mm(dy, a!, true, false);
    } else if (transposeA && !transposeB) {
      ga = () => mm(b!, dy, false, true);
      gb = () => mm(a!, dy, false, false);
    } else {
      ga = () => mm(b!, dy, true, true);
      gb = () => mm(dy, a!, true, true);
    }
    return { a: () => toShape(ga(), a!.shape), b: () => toShape(gb(), b!.shape) };
  },
};

const gather: Grad = {
  kernelName: tf.GatherV2,
  inputsToSave: ['x', 'indices'],
  gradFunc: (dy, saved, attrs) => {
    const [x, indices] = saved as tf.Tensor[];
    const { axis, batchDims } = attrs as unknown as { axis: number; batchDims: number };
    // LIMITATION: gather with batchDims != 0 has no gradient here (nothing in llmdbg uses it).
    if (batchDims !== 0) throw new Error('internal: gather gradient with batchDims is not implemented');
    const ax = tf.util.parseAxisParam(axis, x!.shape)[0]!;
    const derX = () => {
      const outer = x!.shape.slice(0, ax);
      const inner = x!.shape.slice(ax + 1);
      const n = indices!.size;
      const values = tf.reshape(dy as tf.Tensor, [...outer, n, ...inner]);
      const perm = [outer.length, ...outer.map((_, i) => i), ...inner.map((_, i) => outer.length + 1 + i)];
      const summed = tf.unsortedSegmentSum(tf.transpose(values, perm), tf.reshape(indices!, [n]) as tf.Tensor1D, x!.shape[ax]!);
      return tf.transpose(summed, bu.getUndoAxesPermutation(perm));
    };
    return { x: derX, indices: () => tf.cast(tf.zerosLike(indices!), 'float32') };
  },
};

const slice: Grad = {
  kernelName: tf.Slice,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as tf.Tensor[];
    const { begin, size } = attrs as unknown as { begin: number[]; size: number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x!, begin, size);
    return {
      x: () => {
        let g = dy as tf.Tensor;
        for (let i = 0; i < x!.rank; i++) {
          const before = b[i]!;
          const after = x!.shape[i]! - b[i]! - s[i]!;
          if (before === 0 && after === 0) continue;
          const parts: tf.Tensor[] = [];
          if (before > 0) parts.push(tf.zeros(g.shape.map((d, j) => (j === i ? before : d))));
          parts.push(g);
          if (after > 0) parts.push(tf.zeros(g.shape.map((d, j) => (j === i ? after : d))));
          g = tf.concat(parts, i);
        }
        return g;
      },
    };
  },
};

function reduceGrad(kernelName: string, mean: boolean): Grad {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const axes = tf.util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x!.shape);
      const expanded = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const n = axes.reduce((p, a) => p * x!.shape[a]!, 1);
      return {
        x: () => {
          const g = tf.mul(tf.reshape(dy as tf.Tensor, expanded), tf.ones(x!.shape, 'float32'));
          return mean ? tf.div(g, n) : g;
        },
      };
    },
  };
}

/** Max/Min: the gradient flows to the elements equal to the result. */
function extremumGrad(kernelName: string, axisAttr: 'reductionIndices' | 'axis'): Grad {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, y] = saved as tf.Tensor[];
      const axes = tf.util.parseAxisParam((attrs as unknown as Record<string, number | number[]>)[axisAttr]!, x!.shape);
      const expanded = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      return { x: () => tf.mul(tf.reshape(dy as tf.Tensor, expanded), tf.cast(tf.equal(x!, tf.reshape(y!, expanded)), 'float32')) };
    },
  };
}

/** Piecewise-constant kernels: zero gradient for every input. */
function zeroGrad(kernelName: string, inputs: string[]): Grad {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) => Object.fromEntries(inputs.map((n, i) => [n, () => tf.zerosLike(tf.cast((saved as tf.Tensor[])[i]!, 'float32'))])),
  };
}

const GRADS: Grad[] = [
  ...[tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual, tf.Equal, tf.NotEqual].map((k) => zeroGrad(k, ['a', 'b'])),
  ...[tf.Sign, tf.Step, tf.Floor, tf.Ceil, tf.Round, tf.ZerosLike, tf.OnesLike].map((k) => zeroGrad(k, ['x'])),
  binary(tf.SquaredDifference, (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(a, b), 2)), (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(b, a), 2))),
  { kernelName: tf.AddN, saveAllInputs: true, gradFunc: (dy, saved) => (saved as tf.Tensor[]).map(() => () => (dy as tf.Tensor).clone()) as unknown as Record<string, () => tf.Tensor> },
  fromInput(tf.Log1p, (dy, x) => tf.div(dy, tf.add(x, 1))),
  fromInput(tf.Sin, (dy, x) => tf.mul(dy, tf.cos(x))),
  fromInput(tf.Cos, (dy, x) => tf.neg(tf.mul(dy, tf.sin(x)))),
  binary(tf.Add, (dy) => dy, (dy) => dy),
  binary(tf.Sub, (dy) => dy, (dy) => tf.neg(dy)),
  binary(tf.Multiply, (dy, _a, b) => tf.mul(dy, tf.cast(b, 'float32')), (dy, a) => tf.mul(dy, tf.cast(a, 'float32'))),
  binary(tf.RealDiv, (dy, _a, b) => tf.div(dy, b), (dy, a, b) => tf.neg(tf.div(tf.mul(dy, a), tf.square(b)))),
  binary(tf.Maximum, (dy, a, b) => tf.mul(dy, tf.cast(tf.greaterEqual(a, b), 'float32')), (dy, a, b) => tf.mul(dy, tf.cast(tf.less(a, b), 'float32'))),
  binary(tf.Minimum, (dy, a, b) => tf.mul(dy, tf.cast(tf.lessEqual(a, b), 'float32')), (dy, a, b) => tf.mul(dy, tf.cast(tf.greater(a, b), 'float32'))),
  {
    kernelName: tf.Pow,
    inputsToSave: ['a', 'b'],
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [a, b, y] = saved as tf.Tensor[];
      const out = bu.assertAndGetBroadcastShape(a!.shape, b!.shape);
      const bf = tf.cast(b!, 'float32');
      return {
        a: () => unbroadcast(tf.mul(dy as tf.Tensor, tf.mul(bf, tf.pow(a!, tf.sub(bf, 1)))), a!.shape, out),
        b: () => unbroadcast(tf.mul(dy as tf.Tensor, tf.mul(y!, tf.where(tf.greater(a!, 0), tf.log(a!), tf.zerosLike(a!)))), b!.shape, out),
      };
    },
  },
  { kernelName: tf.Neg, gradFunc: (dy) => ({ x: () => tf.neg(dy as tf.Tensor) }) },
  fromInput(tf.Square, (dy, x) => tf.mul(dy, tf.mul(x, 2))),
  fromInput(tf.Sqrt, (dy, x) => tf.div(dy, tf.mul(tf.sqrt(x), 2))),
  fromInput(tf.Rsqrt, (dy, x) => tf.neg(tf.div(dy, tf.mul(tf.pow(x, 1.5), 2)))),
  fromInput(tf.Reciprocal, (dy, x) => tf.neg(tf.div(dy, tf.square(x)))),
  fromInput(tf.Log, (dy, x) => tf.div(dy, x)),
  fromInput(tf.Abs, (dy, x) => tf.mul(dy, tf.sign(x))),
  fromInput(tf.Erf, (dy, x) => tf.mul(dy, tf.mul(tf.exp(tf.neg(tf.square(x))), 2 / Math.sqrt(Math.PI)))),
  fromInput(tf.Relu, (dy, x) => tf.mul(dy, tf.cast(tf.step(x), 'float32'))),
  fromOutput(tf.Exp, (dy, y) => tf.mul(dy, y)),
  fromOutput(tf.Tanh, (dy, y) => tf.mul(tf.sub(1, tf.square(y)), dy)),
  fromOutput(tf.Sigmoid, (dy, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y)))),
  {
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved as tf.Tensor[];
      const { dim } = attrs as unknown as { dim: number };
      const dyy = tf.mul(dy as tf.Tensor, y!);
      return { logits: () => tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y!)) };
    },
  },
  reduceGrad(tf.Sum, false),
  reduceGrad(tf.Mean, true),
  extremumGrad(tf.Max, 'reductionIndices'),
  extremumGrad(tf.Min, 'axis'),
  fromInput(tf.Reshape, (dy, x) => tf.reshape(dy, x.shape)),
  { kernelName: tf.ExpandDims, inputsToSave: ['input'], gradFunc: (dy, saved) => ({ input: () => tf.reshape(dy as tf.Tensor, (saved as tf.Tensor[])[0]!.shape) }) },
  { kernelName: tf.Transpose, gradFunc: (dy, _s, attrs) => ({ x: () => tf.transpose(dy as tf.Tensor, bu.getUndoAxesPermutation((attrs as unknown as { perm: number[] }).perm)) }) },
  { kernelName: tf.Cast, gradFunc: (dy) => ({ x: () => (dy as tf.Tensor).clone() }) },
  { kernelName: tf.Identity, gradFunc: (dy) => ({ x: () => tf.cast(dy as tf.Tensor, 'float32') }) },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const xs = saved as tf.Tensor[];
      const ax = tf.util.parseAxisParam((attrs as unknown as { axis: number }).axis, xs[0]!.shape)[0]!;
      const parts = tf.split(dy as tf.Tensor, xs.map((t) => t.shape[ax]!), ax);
      return parts.map((t) => () => t) as unknown as Record<string, () => tf.Tensor>;
    },
  },
  { kernelName: tf.SplitV, gradFunc: (dy, _s, attrs) => ({ x: () => tf.concat(dy as tf.Tensor[], (attrs as unknown as { axis: number }).axis) }) },
  {
    kernelName: tf.Pack,
    saveAllInputs: true,
    gradFunc: (dy, _s, attrs) => tf.unstack(dy as tf.Tensor, (attrs as unknown as { axis: number }).axis).map((t) => () => t) as unknown as Record<string, () => tf.Tensor>,
  },
  { kernelName: tf.Unpack, gradFunc: (dy, _s, attrs) => ({ value: () => tf.stack(dy as tf.Tensor[], (attrs as unknown as { axis: number }).axis) }) },
  {
    kernelName: tf.BroadcastTo,
    gradFunc: (dy, _s, attrs) => {
      const { inputShape, shape } = attrs as unknown as { inputShape: number[]; shape: number[] };
      const lead = shape.length - inputShape.length;
      const axes = shape.map((_, i) => i).filter((i) => i < lead || inputShape[i - lead] !== shape[i]);
      return { x: () => tf.reshape(tf.sum(dy as tf.Tensor, axes, true), inputShape) };
    },
  },
  {
    kernelName: tf.Tile,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const { reps } = attrs as unknown as { reps: number[] };
      // [r0, d0, r1, d1, ...] then sum the rep axes
      const split = x!.shape.flatMap((d, i) => [reps[i]!, d]);
      return { x: () => tf.sum(tf.reshape(dy as tf.Tensor, split), x!.shape.map((_, i) => 2 * i)) };
    },
  },
  {
    kernelName: tf.Select,
    inputsToSave: ['condition'],
    gradFunc: (dy, saved) => {
      const [c] = saved as tf.Tensor[];
      const g = dy as tf.Tensor;
      return { condition: () => tf.cast(tf.zerosLike(c!), 'float32'), t: () => tf.mul(g, tf.cast(c!, g.dtype)), e: () => tf.mul(g, tf.cast(tf.logicalNot(c!), g.dtype)) };
    },
  },
  {
    kernelName: tf.ClipByValue,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const { clipValueMin, clipValueMax } = attrs as unknown as { clipValueMin: number; clipValueMax: number };
      return { x: () => tf.where(tf.logicalAnd(tf.greaterEqual(x!, clipValueMin), tf.lessEqual(x!, clipValueMax)), dy as tf.Tensor, tf.zerosLike(dy as tf.Tensor)) };
    },
  },
  batchMatMul,
  gather,
  slice,
];

let done = false;

/** Registers every gradient above whose kernel has none yet; idempotent. Call before building the tape. */
export function registerGradients(): void {
  if (done) return;
  done = true;
  for (const g of GRADS) if (!tf.getGradient(g.kernelName)) tf.registerGradient(g);
  registerFusedGradients();
  installLeanBackward(); // frees each gradient and saved tensor as soon as the backward is past it
}
