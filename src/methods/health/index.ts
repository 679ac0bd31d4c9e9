/**
 * Tensor health: statistics per tensor (stats.ts), per hook point of a forward pass with the first
 * non-finite hook (run.ts), and a load-time scan of the checkpoint's weights (weights.ts).
 * Non-goals: pausing or editing a run (src/debugger/).
 */
export * from './stats.js';
export * from './run.js';
export * from './weights.js';
