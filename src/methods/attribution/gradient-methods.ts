/**
 * Saliency, input x gradient, SmoothGrad and VarGrad: one batched gradient pass each, reduced to
 * one score per input position and objective term.
 *
 * saliency = ||g_t|| (L2 or L1); input-x-gradient = x_t . g_t; smoothgrad = ||mean_s g(x + e_s)_t||
 * (the averaged gradient map of Smilkov et al., reduced like saliency); vargrad = sum over the
 * embedding of the per-element variance of g(x + e_s) (population variance, as Captum's NoiseTunnel).
 * Noise e ~ N(0, (noise * std(W_E))^2) per element. Non-goals: noise on anything but the input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import type { Objective } from './objective.js';
import { gradientPass, type GradientPass, type PassOptions, type RowSource } from './passes.js';
import { GaussianStream, embeddingScale } from './noise.js';
import type { NormKind } from './registry.js';

export interface MethodOutput {
  /** Per objective term, one score per source position. */
  scores: Float64Array[];
  parameters: Record<string, unknown>;
  cost: Pick<GradientPass, 'forwardRows' | 'backwardRows' | 'batchRows' | 'sharedForward'>;
  /** Objective values [G] at the input, when the method has them anyway (saliency and input x gradient: their pass; integrated gradients: its alpha = 1 point or its own forward). */
  valuesAtInput?: Float32Array;
}

/** Per-position L2 or L1 norm of a flat [T, C] array. */
export function positionNorms(g: Float32Array, T: number, C: number, norm: NormKind): Float64Array {
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) {
      const v = g[t * C + c]!;
      s += norm === 'l2' ? v * v : Math.abs(v);
    }
    out[t] = norm === 'l2' ? Math.sqrt(s) : s;
  }
  return out;
}

/** Per-position dot product of two flat [T, C] arrays. */
export function positionDots(a: Float32Array, b: Float32Array, T: number, C: number): Float64Array {
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += a[t * C + c]! * b[t * C + c]!;
    out[t] = s;
  }
  return out;
}

export function costOf(p: GradientPass): MethodOutput['cost'] {
  return { forwardRows: p.forwardRows, backwardRows: p.backwardRows, batchRows: p.batchRows, sharedForward: p.sharedForward };
}

/** The input itself as a one-row source. */
function inputRows(x: tf.Tensor3D): RowSource {
  return { count: 1, T: x.shape[1], C: x.shape[2], make: () => tf.clone(x) };
}

export async function saliency(model: Model, obj: Objective, x: tf.Tensor3D, norm: NormKind, opts: PassOptions): Promise<MethodOutput> {
  const [, T, C] = x.shape;
  const p = await gradientPass(model, obj, inputRows(x), [1], opts);
  return { scores: p.sum.map((g) => positionNorms(g, T, C, norm)), parameters: { norm }, cost: costOf(p), valuesAtInput: p.values };
}

export async function inputXGradient(model: Model, obj: Objective, x: tf.Tensor3D, opts: PassOptions): Promise<MethodOutput> {
  const [, T, C] = x.shape;
  const xs = (await x.data()) as Float32Array;
  const p = await gradientPass(model, obj, inputRows(x), [1], opts);
  return { scores: p.sum.map((g) => positionDots(xs, g, T, C)), parameters: {}, cost: costOf(p), valuesAtInput: p.values };
}

export interface NoiseOptions {
  samples: number;
  noise: number;
  seed: number;
}

export function checkNoise(o: NoiseOptions): void {
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new LlmdbgError('invalid_argument', `--samples ${o.samples} must be an integer of at least 1`, { hint: 'use e.g. --samples 16' });
  if (!Number.isFinite(o.noise) || o.noise < 0) throw new LlmdbgError('invalid_argument', `--noise ${o.noise} must be a finite number >= 0`, { hint: 'the noise level is relative to the embedding scale; e.g. --noise 0.1' });
}

/** x + sigma * e_s for samples s, drawn in order from one seeded stream. */
function noisyRows(x: tf.Tensor3D, sigma: number, o: NoiseOptions): RowSource {
  const [, T, C] = x.shape;
  const stream = new GaussianStream(o.seed);
  return {
    count: o.samples, T, C,
    make: (_start, n) => {
      const e = stream.fill(n * T * C);
      return tf.tidy(() => tf.add(x, tf.mul(tf.tensor3d(e, [n, T, C]), sigma)) as tf.Tensor3D);
    },
  };
}

// LIMITATION: VarGrad computes E[g^2] - E[g]^2 from float32 sums: variances below ~1e-7 of E[g^2]
// are rounding noise (clamped at 0).
export async function smoothGrad(model: Model, obj: Objective, x: tf.Tensor3D, kind: 'smoothgrad' | 'vargrad', norm: NormKind, o: NoiseOptions, opts: PassOptions): Promise<MethodOutput> {
  checkNoise(o);
  const [, T, C] = x.shape;
  const scale = embeddingScale(model);
  const sigma = o.noise * scale;
  const weights = new Array<number>(o.samples).fill(1 / o.samples);
  const p = await gradientPass(model, obj, noisyRows(x, sigma, o), weights, { ...opts, squares: kind === 'vargrad' });
  const parameters = { samples: o.samples, noise: o.noise, seed: o.seed, sigma, embeddingScale: scale, ...(kind === 'smoothgrad' ? { norm } : {}) };
  if (kind === 'smoothgrad') return { scores: p.sum.map((g) => positionNorms(g, T, C, norm)), parameters, cost: costOf(p) };
  const scores = p.sum.map((mean, g) => {
    const sq = p.sumSq![g]!;
    const out = new Float64Array(T);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let c = 0; c < C; c++) {
        const m = mean[t * C + c]!;
        s += Math.max(0, sq[t * C + c]! - m * m);
      }
      out[t] = s;
    }
    return out;
  });
  return { scores, parameters, cost: costOf(p) };
}
