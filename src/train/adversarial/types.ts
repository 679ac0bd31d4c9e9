/**
 * Options, progress and result of `harden()`: adversarial training by rounds of attacks and
 * fine-tuning, or by embedding-space perturbations, with held-out scores before and after.
 * Results are plain JSON-serialisable objects carrying their provenance in `info`.
 * Non-goals: the procedure itself (harden.ts), printing (src/cli/commands/harden.ts).
 */
import type { AttackFn, AttackSettings, HardenAttack, HeldOutScores } from './evaluate.js';
import type { HardenItem } from './data.js';

export type HardenMethod = 'attack' | 'embedding';
export const HARDEN_METHODS: readonly HardenMethod[] = ['attack', 'embedding'];

/** Options of `harden(model, opts)`; the model itself is never modified. */
export interface HardenOptions {
  /** Training prompts with their correct answers. */
  train: readonly HardenItem[];
  /** Held-out prompts for the before/after scores. */
  eval: readonly HardenItem[];
  /** `attack`: rounds of attacks + fine-tuning on clean and adversarial examples; `embedding`: perturbed-embedding training. */
  method: HardenMethod;
  /** Attacks used for evaluation and (method `attack`) to make training examples. Default gcg, hotflip. */
  attacks?: readonly HardenAttack[];
  /** Adversarial tokens and attack budget (defaults: prefix of 6 tokens, 12 steps). */
  attack?: Partial<AttackSettings>;
  /** Rounds (default 2) of `steps` optimizer steps (default 40) at batch `batchSize` (16). */
  rounds?: number;
  steps?: number;
  batchSize?: number;
  /** Peak learning rate (default 3e-4; cosine to lr / 10 within each round), weight decay (0), clipping (1). */
  lr?: number;
  weightDecay?: number;
  clip?: number | null;
  /** Training prompts attacked per attack and round (default 32), among those the model answers correctly. */
  nAttack?: number;
  /** Held-out prompts in the attacked sample (default 48); clean accuracy uses every held-out prompt. */
  nEvalAttack?: number;
  /** Share of training examples that are adversarial (default 0.5); the rest are clean. */
  advFraction?: number;
  /** Embedding method: per-token radius relative to the mean embedding-row norm (0.5), PGD steps (1 = FGM), perturbed-loss weight (0.5). */
  epsilon?: number;
  pgdSteps?: number;
  advWeight?: number;
  seed?: number;
  /** Write the hardened model (safetensors, config, tokenizer) and `harden.json` there. */
  outDir?: string;
  overwrite?: boolean;
  /** Provenance of the data (files, bad lines), copied into `info.data`. */
  dataInfo?: Record<string, unknown>;
  /** The attack implementation (default: src/methods/adversarial `attack`). */
  attackFn?: AttackFn;
  onProgress?: (p: HardenProgress) => void;
  signal?: AbortSignal;
}

export interface HardenProgress {
  phase: 'eval-before' | 'attack' | 'train' | 'eval-after' | 'save';
  /** 1-based round, or 0 outside rounds. */
  round: number;
  rounds: number;
  done: number;
  total: number;
  /** e.g. the attack method or the training loss. */
  detail?: string;
}

export interface RoundLog {
  round: number;
  /** Method `attack`: prompts attacked and successes per attack this round. */
  attacks: Partial<Record<HardenAttack, { attacked: number; successes: number }>>;
  /** Adversarial examples available for training (accumulated over rounds). */
  advPool: number;
  /** Training examples this round: clean and adversarial (or, for `embedding`, with random adversarial tokens). */
  examples: { clean: number; adversarial: number };
  steps: number;
  firstLoss: number | null;
  finalLoss: number | null;
  ms: number;
}

export interface HardenRecipe {
  method: HardenMethod;
  attacks: HardenAttack[];
  attack: AttackSettings;
  rounds: number;
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  minLr: number;
  weightDecay: number;
  clip: number | null;
  nAttack: number;
  nEvalAttack: number;
  advFraction: number;
  embedding: { epsilon: number; pgdSteps: number; advWeight: number } | null;
  seed: number;
}

export interface HardenResult {
  /** Output folder, when written. */
  out: string | null;
  before: HeldOutScores;
  after: HeldOutScores;
  /** after - before, in points (percentage points for accuracy and success rates). */
  change: { cleanAccuracy: number; attackSuccess: Partial<Record<HardenAttack, number>> };
  rounds: RoundLog[];
  recipe: HardenRecipe;
  info: Record<string, unknown>;
}
