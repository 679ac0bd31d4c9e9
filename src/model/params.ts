/**
 * The model's parameters in llmdbg's internal layout, shared by every architecture.
 *
 * Linear weights are stored [in, out] so that every projection is `x @ W` (no transposes in the
 * forward pass). Q, K and V are fused into one [C, (H + 2K) D] matrix, and a gated MLP's gate and
 * up projections into one [C, 2M] matrix: one matrix product each instead of three or two.
 * `hf-layout.ts` converts to and from the checkpoint's own names.
 */
import type * as tf from '@tensorflow/tfjs-core';

export interface NormParams {
  w: tf.Tensor1D; // [C]
  b?: tf.Tensor1D; // [C], LayerNorm only
}

export interface LayerParams {
  ln1: NormParams;
  wQKV: tf.Tensor2D; // [C, (H + 2K) D]
  bQKV?: tf.Tensor1D; // [(H + 2K) D]
  wO: tf.Tensor2D; // [H D, C]
  bO?: tf.Tensor1D; // [C]
  ln2: NormParams;
  wIn: tf.Tensor2D; // [C, M], or [C, 2M] gate|up when gated
  bIn?: tf.Tensor1D;
  wOut: tf.Tensor2D; // [M, C]
  bOut?: tf.Tensor1D; // [C]
}

export interface Params {
  wte: tf.Tensor2D; // [V, C]
  wpe?: tf.Tensor2D; // [nCtx, C], learned positions only
  layers: LayerParams[];
  lnF: NormParams;
  /** Unembedding as [V, C] (used with a transposed product); the same tensor as wte when tied. */
  wU: tf.Tensor2D;
  bU?: tf.Tensor1D; // [V]
  /**
   * Optional inference-only copy of the unembedding as [C, V], so backends whose transposed
   * products are slow (WASM) multiply without a transpose. Derived, never saved or trained.
   */
  wUT?: tf.Tensor2D;
}

/** Flattens parameters to stable dotted names (e.g. `layers.3.wQKV`), without duplicating tied ones. */
export function flattenParams(p: Params): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  const put = (name: string, t: tf.Tensor | undefined) => {
    if (t) out.set(name, t);
  };
  put('wte', p.wte);
  put('wpe', p.wpe);
  p.layers.forEach((l, i) => {
    put(`layers.${i}.ln1.w`, l.ln1.w);
    put(`layers.${i}.ln1.b`, l.ln1.b);
    put(`layers.${i}.wQKV`, l.wQKV);
    put(`layers.${i}.bQKV`, l.bQKV);
    put(`layers.${i}.wO`, l.wO);
    put(`layers.${i}.bO`, l.bO);
    put(`layers.${i}.ln2.w`, l.ln2.w);
    put(`layers.${i}.ln2.b`, l.ln2.b);
    put(`layers.${i}.wIn`, l.wIn);
    put(`layers.${i}.bIn`, l.bIn);
    put(`layers.${i}.wOut`, l.wOut);
    put(`layers.${i}.bOut`, l.bOut);
  });
  put('lnF.w', p.lnF.w);
  put('lnF.b', p.lnF.b);
  if (p.wU !== p.wte) put('wU', p.wU);
  put('bU', p.bU);
  return out;
}

/** Rebuilds a Params object from `flattenParams` names (e.g. after wrapping each tensor as a variable). */
export function unflattenParams(flat: Map<string, tf.Tensor>, nLayers: number, tied: boolean): Params {
  const get = <T extends tf.Tensor>(n: string) => flat.get(n) as T | undefined;
  const need = <T extends tf.Tensor>(n: string) => {
    const t = flat.get(n);
    if (!t) throw new Error(`internal: parameter ${n} missing`);
    return t as T;
  };
  const layers: LayerParams[] = [];
  for (let i = 0; i < nLayers; i++) {
    layers.push({
      ln1: { w: need(`layers.${i}.ln1.w`), b: get(`layers.${i}.ln1.b`) },
      wQKV: need(`layers.${i}.wQKV`),
      bQKV: get(`layers.${i}.bQKV`),
      wO: need(`layers.${i}.wO`),
      bO: get(`layers.${i}.bO`),
      ln2: { w: need(`layers.${i}.ln2.w`), b: get(`layers.${i}.ln2.b`) },
      wIn: need(`layers.${i}.wIn`),
      bIn: get(`layers.${i}.bIn`),
      wOut: need(`layers.${i}.wOut`),
      bOut: get(`layers.${i}.bOut`),
    });
  }
  const wte = need<tf.Tensor2D>('wte');
  return {
    wte,
    wpe: get('wpe'),
    layers,
    lnF: { w: need('lnF.w'), b: get('lnF.b') },
    wU: tied ? wte : need('wU'),
    bU: get('bU'),
  };
}

export function disposeParams(p: Params): void {
  for (const t of flattenParams(p).values()) t.dispose();
  p.wUT?.dispose();
}
