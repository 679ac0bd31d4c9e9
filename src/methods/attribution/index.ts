/**
 * Input attribution: which input tokens drive a target token or a whole continuation.
 * Entry point `attribute(model, request)`; the registry lists methods and integration rules.
 * Non-goals: gradient analysis inside the model (../gradients), printing (src/cli).
 */
export { attribute, DEFAULTS } from './attribute.js';
export * from './registry.js';
export * from './types.js';
export { parseBaseline, namedTokenId, describeBaseline, defaultReplacement } from './baseline.js';
export { singleToken, topPrediction, checkTokenId, objectiveValues, type Objective } from './objective.js';
export { quadrature, legendreGauss, type Quadrature } from './quadrature.js';
export { wordSpans, aggregateWords, type WordSpan } from './words.js';
export { renderAttribution, shadeTokens } from './terminal.js';
export { vjps } from './vjp.js';
