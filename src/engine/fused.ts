/**
 * Fused kernels a backend may implement under the model code: their names, whether the active
 * backend has them, the calls, and their gradients.
 *
 * The model layers express every function in plain tf ops; for GPT-2's tanh GELU and LayerNorm
 * they first ask `hasFused(...)` and, where the backend implements the fused kernel (the native
 * backend does), run it instead of the 7-20 element-wise kernels of the composite. Biased
 * projections (`linear`) likewise run as one '_FusedMatMul' with the bias inside the GEMM there. Both compute
 * the same function in float32 (not the same bits: the fused kernels round fewer intermediates),
 * and the parity fixtures hold on either path. `LLMDBG_FUSED=0` (or `setFusedEnabled(false)`)
 * forces the composites, e.g. to compare.
 * Gradients are registered by name (registerFusedGradients, called from registerGradients) and
 * computed lazily per input, so a saliency pass never computes the LayerNorm parameter gradients.
 * Non-goals: fused kernels for the Llama family (RMSNorm, SiLU gating), whose composites the
 * bundled demo model was trained with (changing them would change its training bytes).
 */
import * as tf from '@tensorflow/tfjs-core';

/** tfjs kernel names; a backend registers implementations under these. */
export const FusedKernel = {
  /** inputs {x}: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
  GeluTanh: 'LlmdbgGeluTanh',
  /** inputs {x, dy}: dy * d GeluTanh / dx */
  GeluTanhGrad: 'LlmdbgGeluTanhGrad',
  /** inputs {x [..., C], w [C], b? [C]}, attrs {eps}: (x - mean) / sqrt(var + eps) * w + b over the last axis */
  LayerNorm: 'LlmdbgLayerNorm',
  /** inputs {x, w, dy}, attrs {eps, output: 'dx' | 'dw' | 'db'}: one gradient of LayerNorm */
  LayerNormGrad: 'LlmdbgLayerNormGrad',
  /**
   * inputs {p, g, m, v}, attrs {decay, c, b1, omb1, b2, omb2, bc2, eps, step}: one AdamW step,
   * outputs [p', m', v'] with m' = m b1 + g omb1, v' = v b2 + g^2 omb2,
   * p' = (decay ? p c : p) - m' / (sqrt(v') / bc2 + eps) step, each operation rounded to float32 in
   * that order (bit for bit the composite in src/train/adamw.ts).
   */
  AdamW: 'LlmdbgAdamW',
  /**
   * inputs {x [B, T, N, D], cos [T, D], sin [T, D]}: x cos + rotate_half(x) sin with
   * rotate_half(x) = [-x2, x1], as src/model/layers/rope.ts composes it (bit for bit).
   */
  Rope: 'LlmdbgRope',
  /**
   * inputs {dy, cos, sin}: the input gradient of Rope, summed as tfjs' backward sums the
   * composite's three paths: (dy cos + [0, -(dy sin)_1]) + [(dy sin)_2, 0].
   */
  RopeGrad: 'LlmdbgRopeGrad',
} as const;

let enabled = process.env.LLMDBG_FUSED !== '0';
/** Backends whose '_FusedMatMul' kernel model code should use for `x W + b` (the native one registers itself). */
const linearBackends = new Set<string>();

/** Called by a backend whose _FusedMatMul adds a bias row inside the product (native/index.ts). */
export function useFusedLinearOn(backendName: string): void {
  linearBackends.add(backendName);
}

/** Turns the fused paths on or off for later calls (default on; env LLMDBG_FUSED=0 turns them off). */
export function setFusedEnabled(on: boolean): void {
  enabled = on;
}

/** Whether model code should call `kernel` now: enabled and implemented by the active backend. */
export function hasFused(kernel: string): boolean {
  return enabled && tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/**
 * x [R, C] W [C, N] (+ b [N]): one '_FusedMatMul' kernel with the bias added inside the product on
 * backends that registered for it (native), else matMul then add. Same function; the fused form
 * adds the bias before the K-blocks' partial sums instead of after (float32 rounding differs).
 */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  if (!b) return tf.matMul(x as tf.Tensor2D, w);
  if (!(enabled && linearBackends.has(tf.getBackend()))) return tf.add(tf.matMul(x as tf.Tensor2D, w), b);
  const attrs = { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 };
  return tf.engine().runKernel('_FusedMatMul', { a: x, b: w, bias: b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

export function fusedGeluTanh(x: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(FusedKernel.GeluTanh, { x }) as tf.Tensor;
}

/** x: [..., C], w and b: [C]. */
export function fusedLayerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null, eps: number): tf.Tensor {
  const inputs: tf.NamedTensorMap = b ? { x, w, b } : { x, w };
  return tf.engine().runKernel(FusedKernel.LayerNorm, inputs, { eps }) as tf.Tensor;
}

function lnGrad(x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, eps: number, output: 'dx' | 'dw' | 'db'): tf.Tensor {
  return tf.engine().runKernel(FusedKernel.LayerNormGrad, { x, w, dy }, { eps, output }) as tf.Tensor;
}

/** The float32 constants of one AdamW step (see FusedKernel.AdamW). */
export interface AdamWConstants { decay: boolean; c: number; b1: number; omb1: number; b2: number; omb2: number; bc2: number; eps: number; step: number }

/** One AdamW step as one kernel: [p', m', v'] (call only when hasFused(FusedKernel.AdamW)). */
export function fusedAdamW(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, k: AdamWConstants): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(FusedKernel.AdamW, { p, g, m, v }, k as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** Rotary embedding of x [B, T, N, D] with cos, sin [T, D] as one kernel (see FusedKernel.Rope). */
export function fusedRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel(FusedKernel.Rope, { x, cos, sin }) as tf.Tensor;
}

/** Registers the gradients of the fused kernels (once; no-op for names that already have one). */
export function registerFusedGradients(): void {
  if (!tf.getGradient('_FusedMatMul')) {
    // Only the form `linear` creates (tfjs' own tf.fused.matMul carries a customGrad instead).
    tf.registerGradient({
      kernelName: '_FusedMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const at = attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
        if (at.transposeA || at.transposeB || (at.activation ?? 'linear') !== 'linear') {
          throw new Error(`_FusedMatMul gradient: only the untransposed linear form is supported, got ${JSON.stringify(at)}`);
        }
        const [a, b] = saved as tf.Tensor[];
        const d = dy as tf.Tensor;
        return {
          a: () => tf.matMul(d, b!, false, true),
          b: () => tf.matMul(a!, d, true, false),
          bias: () => tf.sum(d, 0),
        };
      },
    });
  }
  if (!tf.getGradient(FusedKernel.Rope)) {
    tf.registerGradient({
      kernelName: FusedKernel.Rope,
      inputsToSave: ['cos', 'sin'],
      gradFunc: (dy, saved) => {
        const [cos, sin] = saved as tf.Tensor[];
        return {
          x: () => tf.engine().runKernel(FusedKernel.RopeGrad, { dy: dy as tf.Tensor, cos: cos!, sin: sin! }) as tf.Tensor,
          cos: () => tf.zerosLike(cos!), // position tables are constants
          sin: () => tf.zerosLike(sin!),
        };
      },
    });
  }
  if (!tf.getGradient(FusedKernel.GeluTanh)) {
    tf.registerGradient({
      kernelName: FusedKernel.GeluTanh,
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({
        x: () => tf.engine().runKernel(FusedKernel.GeluTanhGrad, { x: (saved as tf.Tensor[])[0]!, dy: dy as tf.Tensor }) as tf.Tensor,
      }),
    });
  }
  if (!tf.getGradient(FusedKernel.LayerNorm)) {
    tf.registerGradient({
      kernelName: FusedKernel.LayerNorm,
      inputsToSave: ['x', 'w'],
      gradFunc: (dy, saved, attrs) => {
        const [x, w] = saved as tf.Tensor[];
        const eps = Number((attrs as { eps?: number }).eps);
        const d = dy as tf.Tensor;
        return {
          x: () => lnGrad(x!, w!, d, eps, 'dx'),
          w: () => tf.reshape(lnGrad(x!, w!, d, eps, 'dw'), w!.shape),
          b: () => tf.reshape(lnGrad(x!, w!, d, eps, 'db'), w!.shape),
        };
      },
    });
  }
}
