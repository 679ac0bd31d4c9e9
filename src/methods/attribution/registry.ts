/**
 * The attribution methods and integration rules, in one table that the library, the CLI's
 * choices, its help text and its error messages all read.
 *
 * Non-goals: the computations themselves (see gradient-methods.ts, integrated.ts, occlusion.ts);
 * layer or neuron attribution (this file lists input attributions only).
 */
import { LlmdbgError, closest } from '../../errors.js';

export interface MethodSpec {
  summary: string;
  /** Needs backward passes (everything except occlusion). */
  gradient: boolean;
  /** How token scores combine into a word score: `sum`, or `norm` (root of summed squares for L2). */
  aggregate: 'sum' | 'norm';
  /** Reports the completeness gap (integrated gradients only). */
  completeness: boolean;
  /** Options that change the result (listed in `info.parameters`). */
  options: readonly string[];
}

export const METHODS = {
  saliency: {
    summary: 'norm of the gradient of the target w.r.t. each input embedding (L2, or L1 with --norm l1)',
    gradient: true, aggregate: 'norm', completeness: false, options: ['norm'],
  },
  'input-x-gradient': {
    summary: 'dot product of each input embedding with its gradient',
    gradient: true, aggregate: 'sum', completeness: false, options: [],
  },
  'integrated-gradients': {
    summary: 'path integral of gradients from a baseline (zero, a token, or ids) to the input',
    gradient: true, aggregate: 'sum', completeness: true, options: ['steps', 'rule', 'baseline'],
  },
  smoothgrad: {
    summary: 'norm of the gradient averaged over seeded Gaussian noise on the embeddings',
    gradient: true, aggregate: 'norm', completeness: false, options: ['norm', 'samples', 'noise', 'seed'],
  },
  vargrad: {
    summary: 'variance of the gradient under seeded Gaussian noise, summed over each embedding',
    gradient: true, aggregate: 'sum', completeness: false, options: ['samples', 'noise', 'seed'],
  },
  occlusion: {
    summary: 'gradient-free leave-one-out: drop in the target when a token is replaced (cross-check)',
    gradient: false, aggregate: 'sum', completeness: false, options: ['baseline'],
  },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

/** Integration rules for integrated gradients, with Captum's names in parentheses in the help. */
export const IG_RULES = {
  'riemann-left': { captum: 'riemann_left', summary: 'left Riemann sum, alphas 0 .. 1 - 1/N' },
  'riemann-right': { captum: 'riemann_right', summary: 'right Riemann sum, alphas 1/N .. 1' },
  'riemann-middle': { captum: 'riemann_middle', summary: 'midpoint Riemann sum, alphas 1/2N .. 1 - 1/2N' },
  'riemann-trapezoid': { captum: 'riemann_trapezoid', summary: 'trapezoid, N points from 0 to 1 inclusive (Captum weights)' },
  'gauss-legendre': { captum: 'gausslegendre', summary: 'Gauss-Legendre quadrature, N nodes (the default)' },
} as const;

export type IgRule = keyof typeof IG_RULES;
export const IG_RULE_NAMES = Object.keys(IG_RULES) as IgRule[];

export const NORMS = ['l2', 'l1'] as const;
export type NormKind = (typeof NORMS)[number];

function unknown(what: string, flag: string, name: string, valid: readonly string[]): LlmdbgError {
  const near = closest(name, valid, 2);
  return new LlmdbgError('unknown_method', `unknown ${what} "${name}"; closest: ${near.join(', ')}`, {
    hint: `${flag} takes one of ${valid.join(', ')}`,
    details: { name, valid, suggestions: near },
  });
}

export function resolveMethod(name: string): MethodName {
  if ((METHOD_NAMES as string[]).includes(name)) return name as MethodName;
  throw unknown('attribution method', '--method', name, METHOD_NAMES);
}

export function resolveRule(name: string): IgRule {
  if ((IG_RULE_NAMES as string[]).includes(name)) return name as IgRule;
  throw unknown('integration rule', '--ig-rule', name, IG_RULE_NAMES);
}

export function resolveNorm(name: string): NormKind {
  if ((NORMS as readonly string[]).includes(name)) return name as NormKind;
  throw unknown('norm', '--norm', name, NORMS);
}

/** The method list as help text, one per line. */
export function methodsHelp(indent = '  '): string {
  const w = Math.max(...METHOD_NAMES.map((m) => m.length));
  return METHOD_NAMES.map((m) => `${indent}${m.padEnd(w)}  ${METHODS[m].summary}`).join('\n');
}

export function rulesHelp(indent = '  '): string {
  const w = Math.max(...IG_RULE_NAMES.map((m) => m.length));
  return IG_RULE_NAMES.map((r) => `${indent}${r.padEnd(w)}  ${IG_RULES[r].summary}`).join('\n');
}
