/**
 * The demo training (or held-out) corpus: short texts mixing facts, IOI, induction, agreement
 * and filler in fixed proportions, as a pure function of `{seed, nExamples, split}`.
 *
 * `split: 'eval'` uses only held-out templates and IOI name pairings (filler is shared).
 * Non-goals: tokenizing, packing into sequences, or adding BOS/EOS (the trainer does that).
 */
import { LlmdbgError } from '../errors.js';
import { Rng } from '../engine/rng.js';
import { inductionRepeats, inductionText, randomAgreement, randomFact, randomFiller, randomIoi, randomWordSequence, type Position, type Sentence } from './sentences.js';
import type { Behaviour, Split } from './templates.js';

export interface CorpusOptions {
  seed: number | string;
  nExamples: number;
  split: Split;
  /** Relative weights per behaviour (normalised); missing ones default to `DEFAULT_MIX`. */
  mix?: Partial<Record<Behaviour, number>>;
  /** Induction run length range in words, inclusive (default 2..20; each text repeats its run 2-4 times, <= 40 words). */
  inductionLen?: readonly [min: number, max: number];
}

export interface CorpusExample {
  text: string;
  behaviour: Behaviour;
  /** Template ids used, in order (`induction` for induction texts). */
  templates: string[];
}

export const BEHAVIOURS: readonly Behaviour[] = ['fact', 'ioi', 'induction', 'agreement', 'filler'];

export const DEFAULT_MIX: Readonly<Record<Behaviour, number>> = { fact: 0.25, ioi: 0.25, induction: 0.2, agreement: 0.15, filler: 0.15 };

/** Sentences per text, inclusive ranges (kept short: <= ~40 tokens per text). */
const SENTENCES: Readonly<Record<'fact' | 'agreement' | 'filler', readonly [number, number]>> = {
  fact: [1, 3],
  agreement: [1, 2],
  filler: [1, 3],
};

/** Exact per-behaviour counts: largest-remainder rounding of `n * weight`, ties in BEHAVIOURS order. */
export function behaviourQuotas(n: number, mix: Partial<Record<Behaviour, number>> = {}): Record<Behaviour, number> {
  const w = BEHAVIOURS.map((b) => mix[b] ?? DEFAULT_MIX[b]);
  if (w.some((x) => !Number.isFinite(x) || x < 0) || w.every((x) => x === 0)) {
    throw new LlmdbgError('invalid_argument', `corpus mix weights must be finite, >= 0 and not all zero, got ${JSON.stringify(mix)}`);
  }
  const sum = w.reduce((a, b) => a + b, 0);
  const exact = w.map((x) => (n * x) / sum);
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (left-- <= 0) break;
    counts[i]!++;
  }
  return Object.fromEntries(BEHAVIOURS.map((b, i) => [b, counts[i]!])) as Record<Behaviour, number>;
}

function joinSentences(rng: Rng, [min, max]: readonly [number, number], make: (p: Position) => Sentence): { text: string; templates: string[] } {
  const n = min + rng.int(max - min + 1);
  const parts: Sentence[] = [];
  for (let i = 0; i < n; i++) parts.push(make(i === 0 ? 'first' : 'later'));
  return { text: parts.map((p) => p.text).join(' '), templates: parts.map((p) => p.template) };
}

function generateOne(rng: Rng, behaviour: Behaviour, split: Split, inductionLen: readonly [number, number]): CorpusExample {
  switch (behaviour) {
    case 'fact':
      return { behaviour, ...joinSentences(rng, SENTENCES.fact, (p) => randomFact(rng, split, p)) };
    case 'agreement':
      return { behaviour, ...joinSentences(rng, SENTENCES.agreement, (p) => randomAgreement(rng, split, p)) };
    case 'filler':
      return { behaviour, ...joinSentences(rng, SENTENCES.filler, (p) => randomFiller(rng, p)) };
    case 'ioi': {
      const s = randomIoi(rng, split);
      return { behaviour, text: s.text, templates: [s.template] };
    }
    case 'induction': {
      const [min, max] = inductionLen;
      const words = randomWordSequence(rng, min + rng.int(max - min + 1));
      return { behaviour, text: inductionText(words, inductionRepeats(words.length)), templates: ['induction'] };
    }
  }
}

/** `nExamples` texts; the behaviour order is shuffled but per-behaviour counts are exact quotas. */
export function generateCorpus(opts: CorpusOptions): CorpusExample[] {
  const { nExamples, split } = opts;
  if (!Number.isInteger(nExamples) || nExamples < 0) {
    throw new LlmdbgError('invalid_argument', `nExamples must be a non-negative integer, got ${nExamples}`);
  }
  if (split !== 'train' && split !== 'eval') {
    throw new LlmdbgError('invalid_argument', `split must be 'train' or 'eval', got ${String(split)}`);
  }
  const inductionLen = opts.inductionLen ?? [2, 20];
  if (!(Number.isInteger(inductionLen[0]) && Number.isInteger(inductionLen[1]) && inductionLen[0] >= 1 && inductionLen[1] >= inductionLen[0])) {
    throw new LlmdbgError('invalid_argument', `inductionLen must be [min, max] integers with 1 <= min <= max, got ${JSON.stringify(inductionLen)}`);
  }
  const rng = new Rng(`llmdbg-demo/corpus/${split}/${String(opts.seed)}`);
  const quotas = behaviourQuotas(nExamples, opts.mix);
  const schedule: Behaviour[] = BEHAVIOURS.flatMap((b) => new Array<Behaviour>(quotas[b]).fill(b));
  rng.shuffle(schedule);
  return schedule.map((b) => generateOne(rng, b, split, inductionLen));
}
