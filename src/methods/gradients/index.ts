/**
 * Gradient analysis: gradient norms at every hook point and parameter, with flags.
 * Non-goals: training (src/train) and input attribution (../attribution).
 */
export * from './report.js';
export * from './flags.js';
export * from './stats.js';
