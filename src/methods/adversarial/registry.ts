/**
 * The attack methods in one table that the library, the CLI's choices, its help text and its
 * error messages all read: a summary, the request options each method accepts, and defaults.
 *
 * Non-goals: the searches themselves (hotflip.ts, input-reduction.ts, gcg.ts), request validation
 * beyond names (validate.ts).
 */
import { LlmdbgError, closest } from '../../errors.js';
import type { AttackMethod } from './types.js';

/** Request fields that only some methods accept (the others are common to all). */
export type MethodOption = 'positions' | 'adv' | 'beam' | 'candidates' | 'topK' | 'batch';

export interface AttackMethodSpec {
  summary: string;
  /** Method-specific request fields it accepts. */
  options: readonly MethodOption[];
  /** Default steps: a number, or `positions` (one removal per allowed position). */
  maxSteps: number | 'positions';
  /** What one step is, for help text. */
  step: string;
}

export const ATTACK_METHODS = {
  hotflip: {
    summary: 'gradient-guided token flips: a first-order estimate over the vocabulary ranks swaps, the best are evaluated exactly (beam search over positions)',
    options: ['positions', 'adv', 'beam', 'candidates'],
    maxSteps: 3,
    step: 'one flip',
  },
  'input-reduction': {
    summary: 'removes tokens one by one while the original prediction stays (what the model really uses)',
    options: ['positions'],
    maxSteps: 'positions',
    step: 'one removal',
  },
  gcg: {
    summary: 'greedy coordinate gradient: optimises an adversarial suffix or prefix with a batch of gradient-chosen swaps per step',
    options: ['adv', 'topK', 'batch'],
    maxSteps: 50,
    step: 'one batch of swaps',
  },
} as const satisfies Record<AttackMethod, AttackMethodSpec>;

export const ATTACK_METHOD_NAMES = Object.keys(ATTACK_METHODS) as AttackMethod[];

/** Defaults of the method-specific options and of the shared ones. */
export const ATTACK_DEFAULTS = {
  beam: 1,
  candidates: 16,
  topK: 32,
  batch: 64,
  /** gcg's adversarial tokens when `adv` is not given. */
  adv: { where: 'suffix', length: 8 },
  seed: 0,
  memoryMB: 1024,
} as const;

export function resolveAttackMethod(name: string): AttackMethod {
  if ((ATTACK_METHOD_NAMES as string[]).includes(name)) return name as AttackMethod;
  const near = closest(name, ATTACK_METHOD_NAMES, 2);
  throw new LlmdbgError('unknown_method', `unknown attack method "${name}"; closest: ${near.join(', ')}`, {
    hint: `--method takes one of ${ATTACK_METHOD_NAMES.join(', ')}`,
    details: { name, valid: ATTACK_METHOD_NAMES, suggestions: near },
  });
}

/** The methods accepting an option, for "does not apply" errors. */
export function methodsWithOption(opt: MethodOption): AttackMethod[] {
  return ATTACK_METHOD_NAMES.filter((m) => (ATTACK_METHODS[m].options as readonly string[]).includes(opt));
}

/** The method list as help text, one per line. */
export function attackMethodsHelp(indent = '  '): string {
  const w = Math.max(...ATTACK_METHOD_NAMES.map((m) => m.length));
  return ATTACK_METHOD_NAMES.map((m) => {
    const s = ATTACK_METHODS[m];
    const steps = s.maxSteps === 'positions' ? 'prompt length' : String(s.maxSteps);
    return `${indent}${m.padEnd(w)}  ${s.summary} (default steps: ${steps}, a step is ${s.step})`;
  }).join('\n');
}
