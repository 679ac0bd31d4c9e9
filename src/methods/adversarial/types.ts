/**
 * Request and result types of adversarial attacks on generative models: what the attacker wants
 * (a goal), what it may touch (constraints, vocabulary filter, budgets), and what it reports (the
 * original and adversarial inputs, the goal's probability before and after, cost, a per-step log).
 *
 * Results are plain JSON-serialisable objects carrying their provenance in `info`.
 * Non-goals: the search algorithms (hotflip.ts, input-reduction.ts, gcg.ts), printing (src/cli).
 */

export type AttackMethod = 'hotflip' | 'input-reduction' | 'gcg';

/**
 * `targeted`: make the model continue the (possibly modified) prompt with `targetIds` (greedy
 * decoding reproduces every target token). `untargeted`: make the model's top-1 next token differ
 * from `answerIds[0]` (default: the model's own greedy prediction on the original prompt).
 * `input-reduction` keeps the goal satisfied on the ORIGINAL prediction while removing tokens.
 */
export type AttackGoal =
  | { kind: 'targeted'; targetIds: number[] }
  | { kind: 'untargeted'; answerIds?: number[] };

/** Which token ids may be inserted: never special tokens; by default only printable text. */
export interface VocabFilter {
  /** Allow special tokens (BOS/EOS/PAD and tokenizer `special` tokens). Default false. */
  allowSpecial?: boolean;
  /** Only tokens that decode to printable text (no control characters, no broken UTF-8). Default true. */
  printableOnly?: boolean;
  /** If given, only these ids (after the filters above). */
  allow?: number[];
  /** Never these ids. */
  deny?: number[];
}

export interface AttackBudget {
  /** Search steps (flips for hotflip, removals for input-reduction, iterations for gcg). */
  maxSteps?: number;
  /** Forward evaluations of candidate inputs, counted per sequence. */
  maxQueries?: number;
  /** Wall-clock limit; the best input found so far is returned when it runs out. */
  maxTimeMs?: number;
}

export interface AttackRequest {
  method: AttackMethod;
  /** Prompt ids (including BOS when the model uses one). */
  ids: number[];
  goal: AttackGoal;
  /**
   * Prompt positions that may change (hotflip) or be removed (input-reduction). Default: every
   * position except a leading BOS; with `adv`, hotflip changes only the added tokens.
   */
  positions?: number[];
  /**
   * Adversarial tokens added to the prompt that the attack may change: a prefix (after a leading
   * BOS) or a suffix of `length` tokens, all `initId` (default: a seeded draw from the filtered
   * vocabulary). gcg always uses them (default suffix of 8); hotflip when given. The question
   * itself stays intact, so the correct answer is unchanged (what hardening trains on).
   */
  adv?: { where: 'suffix' | 'prefix'; length: number; initId?: number };
  vocab?: VocabFilter;
  budget?: AttackBudget;
  /** hotflip: beam width (default 1) and exactly-evaluated candidates per beam per step (default 16). */
  beam?: number;
  candidates?: number;
  /** gcg: top-k tokens per position from the gradient (default 32) and candidates per step (default 64). */
  topK?: number;
  batch?: number;
  seed?: number;
  /** Memory budget for one batch of candidate rows, MB (default 1024); batches are split to respect it. */
  memoryMB?: number;
  onProgress?: (p: AttackProgress) => void;
  signal?: AbortSignal;
}

export interface AttackProgress {
  step: number;
  maxSteps: number;
  queries: number;
  /** Current goal probability (targeted: p(target); untargeted: p(answer)). */
  prob: number;
}

/** One input state with what the model does on it. */
export interface AttackInput {
  ids: number[];
  text: string;
  /** Greedy continuation, as long as the target (targeted) or one token. */
  predictionIds: number[];
  prediction: string;
  /** Targeted: probability of the whole target sequence; untargeted: probability of the answer's first token. */
  prob: number;
}

export interface AttackStepLog {
  step: number;
  /** What changed: a flip at a position, a removed position, or a gcg swap. */
  change: { kind: 'flip' | 'remove' | 'swap'; position: number; fromId: number | null; toId: number | null };
  ids: number[];
  /** Goal loss after the step (targeted: -log p(target); untargeted: log p(answer)); lower is better for the attacker. */
  loss: number;
  prob: number;
  /** Queries used so far (cumulative, as the result's `queries`). */
  queries: number;
  /** Wall-clock milliseconds elapsed since the attack started, at the end of this step (cumulative, not the step's own time). */
  ms: number;
}

export interface AttackResult {
  method: AttackMethod;
  goal: AttackGoal & { answerIds?: number[] };
  original: AttackInput;
  adversarial: AttackInput;
  /** Targeted: greedy decoding yields the target; untargeted: top-1 differs from the answer; reduction: prediction kept with >= 1 token removed. */
  success: boolean;
  stopReason: 'success' | 'steps' | 'queries' | 'time' | 'converged' | 'aborted';
  /** Forward evaluations of candidate inputs (per sequence) and gradient computations. */
  queries: number;
  gradients: number;
  /** Wall-clock milliseconds of the whole attack. */
  ms: number;
  steps: AttackStepLog[];
  info: Record<string, unknown>;
}
