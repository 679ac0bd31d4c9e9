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

export async function integratedGradients(
  model: Model, obj: Objective, x: tf.Tensor3D, base: tf.Tensor3D, rule: IgRule, steps: number, fInput: readonly number[], opts: PassOptions,
): Promise<MethodOutput & { completeness: Completeness[]; fBaseline: number[] }> {
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
    const fb = await valuePass(model, obj, { count: 1, T, C, make: () => tf.clone(base) }, opts);
    const d = (await diff.data()) as Float32Array;
    const scores = p.sum.map((g) => positionDots(d, g, T, C));
    const fBaseline = Array.from(fb.values);
    const completeness = scores.map((s, g) => {
      const sum = s.reduce((a, b) => a + b, 0);
      const expected = fInput[g]! - fBaseline[g]!;
      const delta = sum - expected;
      return { sum, fInput: fInput[g]!, fBaseline: fBaseline[g]!, delta, relative: Math.abs(delta) / Math.max(Math.abs(expected), 1e-12) };
    });
    const cost = costOf(p);
    return { scores, completeness, fBaseline, parameters: { rule, steps, alphas: q.alphas, weights: q.weights }, cost: { ...cost, forwardRows: cost.forwardRows + 1 } };
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
