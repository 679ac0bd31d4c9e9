/**
 * Adversarial attacks on generative models: `attack(model, request)` with hotflip,
 * input-reduction and gcg; the registry lists methods, options and defaults for the CLI.
 * Non-goals: printing (src/cli), HTML reports (src/report), hardening (its own files).
 */
export { attack } from './attack.js';
export * from './registry.js';
export * from './types.js';
export { allowedVocab, isPrintable, type AllowedVocab } from './vocab-filter.js';
export { GoalScorer, type ResolvedGoal, type Scored } from './goal.js';
export { flipEstimates, tokenGradients, smallestK } from './token-scores.js';
