/**
 * Integrated gradients on input embeddings: score_t = (x_t - b_t) . sum_i w_i g(b + a_i (x - b))_t
 * with Captum's alphas and weights, and the completeness gap reported for every objective term.
 *
 * Interpolation points are built one batch at a time under the memory bound (passes.ts).
 * Non-goals: choosing steps adaptively (the warning says when to raise them).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';
import type { Objective } from './objective.js';
import { gradientPass, valuePass, type PassOptions } from './passes.js';
import { quadrature } from './quadrature.js';
import { costOf, positionDots, type MethodOutput } from './gradient-methods.js';
import type { IgRule } from './registry.js';
import type { Completeness } from './types.js';

/** Above this |delta| / |f(x) - f(b)| a result carries a warning. */
export const COMPLETENESS_WARN = 0.05;

/**
 * fInput: the objective at the input, or null to take it from the interpolation point alpha = 1
 * when the rule has one (riemann-trapezoid, riemann-right); f(baseline) likewise comes from the
 * point alpha = 0 when there is one (as a batched PyTorch IG does), else from one more forward.
 */
export async function integratedGradients(
  model: Model, obj: Objective, x: tf.Tensor3D, base: tf.Tensor3D, rule: IgRule, steps: number, fInput: readonly number[] | null, opts: PassOptions,
): Promise<MethodOutput & { completeness: Completeness[]; fBaseline: number[]; fInput: number[] }> {
  const [, T, C] = x.shape;
  const q = quadrature(rule, steps);
  const diff = tf.sub(x, base); // [1, T, C]
  try {
    const rows = {
      count: steps, T, C,
      make: (start: number, n: number) => tf.tidy(() => {
        const a = tf.tensor3d(q.alphas.slice(start, start + n), [n, 1, 1]);
        return tf.add(base, tf.mul(a, diff)) as tf.Tensor3D;
      }),
    };
    const p = await gradientPass(model, obj, rows, q.weights, opts);
    const G = obj.positions.length;
    // The row at alpha is b + fround(alpha) (x - b) in float32: b itself at 0, and at 1 the point
    // b + (x - b), which is x for the zero baseline and within an ulp of it otherwise.
    const at = (alpha: number) => q.alphas.findIndex((a) => Math.fround(a) === alpha);
    const row = (i: number) => Array.from(p.values.subarray(i * G, i * G + G));
    let extraForwards = 0;
    const forward = async (t: tf.Tensor3D) => {
      extraForwards++;
      return Array.from((await valuePass(model, obj, { count: 1, T, C, make: () => tf.clone(t) }, opts)).values);
    };
    const i0 = at(0);
    const i1 = at(1);
    const fBaseline = i0 >= 0 ? row(i0) : await forward(base);
    const fIn = fInput ? [...fInput] : i1 >= 0 ? row(i1) : await forward(x);
    const d = (await diff.data()) as Float32Array;
    const scores = p.sum.map((g) => positionDots(d, g, T, C));
    const completeness = scores.map((s, g) => {
      const sum = s.reduce((a, b) => a + b, 0);
      const expected = fIn[g]! - fBaseline[g]!;
      const delta = sum - expected;
      return { sum, fInput: fIn[g]!, fBaseline: fBaseline[g]!, delta, relative: Math.abs(delta) / Math.max(Math.abs(expected), 1e-12) };
    });
    const cost = costOf(p);
    return { scores, completeness, fBaseline, fInput: fIn, parameters: { rule, steps, alphas: q.alphas, weights: q.weights }, cost: { ...cost, forwardRows: cost.forwardRows + extraForwards } };
  } finally {
    diff.dispose();
  }
}

/** One warning line when the completeness gap is large, else null. */
export function completenessWarning(c: Completeness, rule: IgRule, steps: number, label = ''): string | null {
  if (!(c.relative > COMPLETENESS_WARN)) return null;
  const pct = Number.isFinite(c.relative) ? `${(100 * c.relative).toFixed(1)}%` : 'non-finite';
  const better = rule === 'gauss-legendre' ? `raise --steps (now ${steps})` : `raise --steps (now ${steps}) or use --ig-rule gauss-legendre`;
  return `completeness gap${label} is ${pct} of f(input) - f(baseline) (sum ${c.sum.toPrecision(4)} vs ${(c.fInput - c.fBaseline).toPrecision(4)}): ${better}`;
}
