/**
 * Integration points (alphas) and weights for integrated gradients, defined exactly as Captum's
 * `captum/attr/_utils/approximation_methods.py`: N counts gradient evaluations for every rule.
 *
 * Riemann rules use weights 1/N; `riemann-trapezoid` evaluates N points from 0 to 1 inclusive and
 * halves the two end weights, so its weights sum to 1 - 1/N (Captum's definition, kept for parity).
 * Gauss-Legendre nodes come from Newton's method on P_N, in float64 (numpy's leggauss values).
 * Non-goals: adaptive quadrature.
 */
import { LlmdbgError } from '../../errors.js';
import type { IgRule } from './registry.js';

export interface Quadrature {
  alphas: number[];
  weights: number[];
}

/** numpy.linspace(a, b, n) (and torch.linspace in float64): a + i * (b - a) / (n - 1), last = b. */
function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  const step = (b - a) / (n - 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(i === n - 1 ? b : a + i * step);
  return out;
}

/** Gauss-Legendre nodes and weights on [-1, 1], ascending (as numpy.polynomial.legendre.leggauss). */
export function legendreGauss(n: number): { x: number[]; w: number[] } {
  const x = new Array<number>(n);
  const w = new Array<number>(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    // Tricomi's initial guess for the i-th largest root, then Newton on P_n.
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 1;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1; // P_{k-1}
      let p1 = z; // P_k
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = (n * (z * p1 - p0)) / (z * z - 1); // P_n'(z)
      const dz = p1 / dp;
      z -= dz;
      if (Math.abs(dz) < 1e-16) break;
    }
    const wi = 2 / ((1 - z * z) * dp * dp);
    x[i] = -z;
    x[n - 1 - i] = z;
    w[i] = wi;
    w[n - 1 - i] = wi;
  }
  if (n % 2 === 1) x[(n - 1) / 2] = 0;
  return { x, w };
}

/** Alphas in [0, 1] and their weights for `rule` with `n` gradient evaluations. */
export function quadrature(rule: IgRule, n: number): Quadrature {
  const min = rule === 'gauss-legendre' ? 1 : 2;
  if (!Number.isInteger(n) || n < min) {
    throw new LlmdbgError('invalid_argument', `--steps ${n} is too small for ${rule}: it needs at least ${min}`, { hint: `use --steps ${Math.max(min, 16)} or more` });
  }
  if (rule === 'gauss-legendre') {
    const g = legendreGauss(n);
    return { alphas: g.x.map((t) => 0.5 * (1 + t)), weights: g.w.map((v) => 0.5 * v) };
  }
  const weights = new Array<number>(n).fill(1 / n);
  switch (rule) {
    case 'riemann-left':
      return { alphas: linspace(0, 1 - 1 / n, n), weights };
    case 'riemann-right':
      return { alphas: linspace(1 / n, 1, n), weights };
    case 'riemann-middle':
      return { alphas: linspace(1 / (2 * n), 1 - 1 / (2 * n), n), weights };
    case 'riemann-trapezoid':
      weights[0] = weights[0]! / 2;
      weights[n - 1] = weights[n - 1]! / 2;
      return { alphas: linspace(0, 1, n), weights };
  }
}
