/**
 * Held-out evaluation suites: next-word items for facts, IOI and agreement, plus the induction
 * suite (random word-id sequences repeated twice), and the JSONL writer `llmdbg eval` reads.
 *
 * Prompts use only `split: 'eval'` templates and held-out IOI name pairings.
 * Non-goals: running a model or scoring (the eval command does that).
 */
import { writeFileSync } from 'node:fs';
import { LlmdbgError } from '../errors.js';
import { Rng } from '../engine/rng.js';
import {
  RELATIONS, RELATION_FACTS, agreementBindings, factBindings, ioiBindings, ioiPairs, randomAgreementChoice,
  randomWordSequence,
} from './sentences.js';
import { AGREEMENT_TEMPLATES, FACT_TEMPLATES, IOI_TEMPLATES, promptOf } from './templates.js';
import { buildVocabulary, wordToken, type Vocabulary } from './vocab.js';
import { OBJECTS, PLACES } from './world.js';

export type SuiteBehaviour = 'fact' | 'ioi' | 'agreement';

/** One next-word item; `expected` carries its leading space (" Paris"). */
export interface SuiteItem {
  prompt: string;
  expected: string;
  behaviour: SuiteBehaviour;
}

/** Each `sequences[i]` is `r ++ r` for a random run `r` of `seqLen` distinct word ids, WITHOUT BOS. */
export interface InductionSuite {
  behaviour: 'induction';
  seqLen: number;
  sequences: number[][];
  /** The words of each `r` (one copy), for display. */
  words: string[][];
}

export interface EvalSuites {
  fact: SuiteItem[];
  ioi: SuiteItem[];
  agreement: SuiteItem[];
  induction: InductionSuite;
}

export interface SuiteOptions {
  seed: number | string;
  /** Items in the IOI and agreement suites (default 200 each). */
  nIoi?: number;
  nAgreement?: number;
  /** Induction sequences (default 100) and their length in words (default 16). */
  nInduction?: number;
  inductionLen?: number;
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new LlmdbgError('invalid_argument', `${name} must be a non-negative integer, got ${n}`);
}

/** Every fact of every relation, in every held-out (eval) forward template. Deterministic. */
export function buildFactSuite(): SuiteItem[] {
  const items: SuiteItem[] = [];
  for (const relation of RELATIONS) {
    const templates = FACT_TEMPLATES.filter((t) => t.relation === relation && t.split === 'eval' && t.direction === 'forward');
    for (let i = 0; i < RELATION_FACTS[relation].length; i++) {
      for (const t of templates) items.push({ ...promptOf(t, factBindings(relation, i)), behaviour: 'fact' });
    }
  }
  return items;
}

/**
 * `n` IOI items over held-out pairings and templates. Templates and IO-first/IO-second order
 * cycle deterministically so both are balanced; pair, roles, place and object are random.
 */
export function buildIoiSuite(seed: number | string, n: number): SuiteItem[] {
  checkCount('nIoi', n);
  const rng = new Rng(`llmdbg-demo/suite/ioi/${String(seed)}`);
  const templates = IOI_TEMPLATES.filter((t) => t.split === 'eval');
  const pairs = rng.shuffle([...ioiPairs('eval')]);
  const items: SuiteItem[] = [];
  for (let i = 0; i < n; i++) {
    const t = templates[i % templates.length]!;
    const ioFirst = Math.floor(i / templates.length) % 2 === 0;
    const [a, b] = pairs[i % pairs.length]!;
    const swap = rng.int(2) === 1;
    const b0 = ioiBindings({ io: swap ? b : a, s: swap ? a : b, ioFirst, place: rng.pick(PLACES), obj: rng.pick(OBJECTS) });
    items.push({ ...promptOf(t, b0), behaviour: 'ioi' });
  }
  return items;
}

/** `n` agreement items: singular/plural subjects alternate, the distractor has the other number. */
export function buildAgreementSuite(seed: number | string, n: number): SuiteItem[] {
  checkCount('nAgreement', n);
  const rng = new Rng(`llmdbg-demo/suite/agreement/${String(seed)}`);
  const templates = AGREEMENT_TEMPLATES.filter((t) => t.split === 'eval');
  const items: SuiteItem[] = [];
  for (let i = 0; i < n; i++) {
    const plural = i % 2 === 1;
    const t = templates[Math.floor(i / 2) % templates.length]!;
    items.push({ ...promptOf(t, agreementBindings(randomAgreementChoice(rng, plural, !plural))), behaviour: 'agreement' });
  }
  return items;
}

export function buildInductionSuite(seed: number | string, n: number, seqLen: number, vocab: Vocabulary = buildVocabulary()): InductionSuite {
  checkCount('nInduction', n);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new LlmdbgError('invalid_argument', `inductionLen must be a positive integer, got ${seqLen}`);
  const rng = new Rng(`llmdbg-demo/suite/induction/${String(seed)}`);
  const sequences: number[][] = [];
  const words: string[][] = [];
  for (let i = 0; i < n; i++) {
    const w = randomWordSequence(rng, seqLen);
    const ids = w.map((x) => {
      const id = vocab.ids.get(wordToken(x, true));
      if (id === undefined) throw new LlmdbgError('internal', `induction word ${JSON.stringify(x)} is not in the demo vocabulary`);
      return id;
    });
    words.push(w);
    sequences.push([...ids, ...ids]);
  }
  return { behaviour: 'induction', seqLen, sequences, words };
}

export function buildEvalSuites(opts: SuiteOptions): EvalSuites {
  return {
    fact: buildFactSuite(),
    ioi: buildIoiSuite(opts.seed, opts.nIoi ?? 200),
    agreement: buildAgreementSuite(opts.seed, opts.nAgreement ?? 200),
    induction: buildInductionSuite(opts.seed, opts.nInduction ?? 100, opts.inductionLen ?? 16),
  };
}

/** One `{"prompt","expected","behaviour"}` object per line, in that key order, trailing newline. */
export function formatSuiteJsonl(items: readonly SuiteItem[]): string {
  return items.map((it) => JSON.stringify({ prompt: it.prompt, expected: it.expected, behaviour: it.behaviour }) + '\n').join('');
}

export function writeSuiteJsonl(path: string, items: readonly SuiteItem[]): void {
  writeFileSync(path, formatSuiteJsonl(items), 'utf8');
}
