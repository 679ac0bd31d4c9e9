/**
 * Request and result types of input attribution. Results are plain JSON-serialisable objects
 * that carry their provenance in `info` (method, parameters, model, cost and duration).
 *
 * Two shapes: `single` (one target, one score per input position) and `continuation` (every
 * continuation token attributed to every earlier token: ragged rows, row g has P + g scores).
 */
import type { IgRule, MethodName, NormKind } from './registry.js';

/** What replaces an input embedding: the zero vector, one token's embedding, or given ids. */
export type BaselineSpec = { kind: 'zero' } | { kind: 'token'; id: number; name?: string } | { kind: 'ids'; ids: number[] };

export interface AttributeProgress {
  phase: 'gradients' | 'forward';
  done: number;
  total: number;
}

export interface AttributeRequest {
  /** Prompt token ids (the sources). */
  ids: number[];
  method: MethodName;
  /** Target token at the last position; default: the model's top prediction. */
  target?: number;
  /** Contrastive foil: the objective becomes log p(target) - log p(foil). */
  foil?: number;
  /** Continuation ids: each is a target, attributed to every earlier token (prompt and continuation). */
  continuation?: number[];
  norm?: NormKind;
  steps?: number;
  rule?: IgRule;
  /** Integrated-gradients baseline, and occlusion's replacement. */
  baseline?: BaselineSpec;
  samples?: number;
  /** SmoothGrad/VarGrad noise standard deviation relative to the embedding scale (std of the embedding matrix). */
  noise?: number;
  seed?: number;
  /** Memory budget for one batch of rows, MB. */
  memoryMB?: number;
  /** One recorded forward for all of a continuation's backward passes (default true). */
  reuseForward?: boolean;
  onProgress?: (p: AttributeProgress) => void;
}

export interface TokenRef {
  id: number;
  text: string;
}

export interface WordScore {
  text: string;
  /** Token positions [start, end). */
  start: number;
  end: number;
  score: number;
}

export interface Completeness {
  /** Sum of the scores. */
  sum: number;
  fInput: number;
  fBaseline: number;
  /** sum - (fInput - fBaseline). */
  delta: number;
  /** |delta| / |fInput - fBaseline|. */
  relative: number;
}

export interface SingleTarget {
  position: number;
  id: number;
  text: string;
  /** `top`: the model's own prediction; `given`: chosen by the caller. */
  source: 'top' | 'given';
  logprob: number;
  prob: number;
  foil: (TokenRef & { logprob: number }) | null;
  /** The attributed quantity at the input: logprob, or logprob(target) - logprob(foil). */
  value: number;
}

export interface ContinuationTarget {
  ids: number[];
  texts: string[];
  /** Position whose logits predict each continuation token. */
  positions: number[];
  logprobs: number[];
}

export interface AttributionInfo {
  method: MethodName;
  parameters: Record<string, unknown>;
  model: { dir: string; arch: string; fingerprint: string };
  durationMs: number;
  /** Forward passes (rows) and backward passes (rows x cotangents) run. */
  forwardRows: number;
  backwardRows: number;
  /** Rows per batch chosen under the memory budget. */
  batchRows: number;
  memoryMB: number;
  /** Forward reused by all of a continuation's backward passes. */
  sharedForward: boolean;
}

interface Common {
  method: MethodName;
  /** The source tokens (prompt; for a continuation also every continuation token but the last). */
  tokens: TokenRef[];
  warnings: string[];
  info: AttributionInfo;
}

export interface SingleAttribution extends Common {
  kind: 'single';
  target: SingleTarget;
  scores: number[];
  words: WordScore[];
  /** Completeness gap of integrated gradients; null for other methods. */
  delta: number | null;
  completeness: Completeness | null;
}

export interface ContinuationAttribution extends Common {
  kind: 'continuation';
  target: ContinuationTarget;
  /** Row g (continuation token g) has one score per earlier token: P + g entries. */
  scores: number[][];
  words: WordScore[][];
  delta: number[] | null;
  completeness: Completeness[] | null;
}

export type AttributionResult = SingleAttribution | ContinuationAttribution;
