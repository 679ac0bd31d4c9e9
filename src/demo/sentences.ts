/**
 * Slot bindings and random sentences for each behaviour; shared by corpus.ts and suites.ts.
 *
 * Every random choice goes through the caller's `Rng`, so output is a pure function of its state.
 * The split decides which templates (and, for IOI, which name pairings) may be used.
 * Non-goals: mixing behaviours or deciding text length (corpus.ts does that).
 */
import type { Rng } from '../engine/rng.js';
import {
  AGREEMENT_TEMPLATES, FACT_TEMPLATES, FILLER_TEMPLATES, IOI_TEMPLATES, canFollow, canOpenText, fillTemplate,
  type Relation, type Split, type Template,
} from './templates.js';
import {
  ADJECTIVES, ANIMAL_SOUNDS, CAPITALS, FILLER_VERBS, NOUN_PAIRS, OBJECTS, PEOPLE_JOBS, PLACES, PREPOSITIONS,
  THINGS, TIMES, inductionPool, ioiPairSplit,
} from './world.js';

export interface Sentence {
  text: string;
  template: string;
}

export type Bindings = Record<string, string>;

/** Where a sentence sits in its text: the first one needs a literal opening word. */
export type Position = 'first' | 'later';

export const RELATION_FACTS: Readonly<Record<Relation, ReadonlyArray<readonly [string, string]>>> = {
  capital: CAPITALS,
  job: PEOPLE_JOBS,
  sound: ANIMAL_SOUNDS,
};
export const RELATIONS: readonly Relation[] = ['capital', 'job', 'sound'];

const usableCache = new Map<string, Template[]>();

/** Templates of `ts` usable in `split` at `position`; memoised per (family, split, position). */
function usable(family: string, ts: readonly Template[], split: Split, position: Position): Template[] {
  const key = `${family}|${split}|${position}`;
  let hit = usableCache.get(key);
  if (hit === undefined) {
    hit = ts.filter((t) => t.split === split && (position === 'first' ? canOpenText(t) : canFollow(t)));
    usableCache.set(key, hit);
  }
  return hit;
}

function sentence(t: Template, b: Bindings): Sentence {
  return { text: fillTemplate(t.text, b), template: t.id };
}

// ---- facts ------------------------------------------------------------------------------------

export function factBindings(relation: Relation, index: number): Bindings {
  const [x, y] = RELATION_FACTS[relation][index]!;
  return { X: x, Y: y };
}

/** A uniformly chosen fact (over all relations) in a uniformly chosen usable template. */
export function randomFact(rng: Rng, split: Split, position: Position): Sentence {
  const total = RELATIONS.reduce((n, r) => n + RELATION_FACTS[r].length, 0);
  let k = rng.int(total);
  let relation: Relation = 'capital';
  for (const r of RELATIONS) {
    if (k < RELATION_FACTS[r].length) { relation = r; break; }
    k -= RELATION_FACTS[r].length;
  }
  const t = rng.pick(usable(`fact/${relation}`, FACT_TEMPLATES.filter((f) => f.relation === relation), split, position));
  return sentence(t, factBindings(relation, k));
}

// ---- indirect object identification -----------------------------------------------------------

export interface IoiChoice {
  io: string;
  s: string;
  /** Whether the answer (IO) is the first name mentioned ("When IO and S ..."). */
  ioFirst: boolean;
  place: string;
  obj: string;
}

export function ioiBindings(c: IoiChoice): Bindings {
  return { N1: c.ioFirst ? c.io : c.s, N2: c.ioFirst ? c.s : c.io, S: c.s, IO: c.io, PLACE: c.place, OBJ: c.obj };
}

/** Name pairings allowed in `split`: training pairs, or the held-out ones for eval. */
export function ioiPairs(split: Split): ReadonlyArray<readonly [string, string]> {
  const p = ioiPairSplit();
  return split === 'train' ? p.train : p.heldOut;
}

export function randomIoiChoice(rng: Rng, split: Split): IoiChoice {
  const [a, b] = rng.pick(ioiPairs(split));
  const swap = rng.int(2) === 1;
  return { io: swap ? b : a, s: swap ? a : b, ioFirst: rng.int(2) === 1, place: rng.pick(PLACES), obj: rng.pick(OBJECTS) };
}

export function randomIoi(rng: Rng, split: Split): Sentence {
  const t = rng.pick(usable('ioi', IOI_TEMPLATES, split, 'first'));
  return sentence(t, ioiBindings(randomIoiChoice(rng, split)));
}

// ---- subject-verb agreement -------------------------------------------------------------------

export interface AgreementChoice {
  subject: number;
  plural: boolean;
  distractor: number;
  distractorPlural: boolean;
  prep: string;
  adj: string;
  adj2: string;
}

export function agreementBindings(c: AgreementChoice): Bindings {
  return {
    SUBJ: NOUN_PAIRS[c.subject]![c.plural ? 1 : 0],
    DIST: NOUN_PAIRS[c.distractor]![c.distractorPlural ? 1 : 0],
    VERB: c.plural ? 'are' : 'is',
    PREP: c.prep,
    ADJ: c.adj,
    ADJ2: c.adj2,
  };
}

/** `distractorPlural`: fixed, or random when undefined. The distractor is a different noun. */
export function randomAgreementChoice(rng: Rng, plural: boolean, distractorPlural?: boolean): AgreementChoice {
  const subject = rng.int(NOUN_PAIRS.length);
  const distractor = (subject + 1 + rng.int(NOUN_PAIRS.length - 1)) % NOUN_PAIRS.length;
  return {
    subject, plural, distractor,
    distractorPlural: distractorPlural ?? rng.int(2) === 1,
    prep: rng.pick(PREPOSITIONS), adj: rng.pick(ADJECTIVES), adj2: rng.pick(ADJECTIVES),
  };
}

/** Training: random distractor number. Eval: the distractor always has the OTHER number. */
export function randomAgreement(rng: Rng, split: Split, position: Position): Sentence {
  const t = rng.pick(usable('agreement', AGREEMENT_TEMPLATES, split, position));
  const plural = rng.int(2) === 1;
  return sentence(t, agreementBindings(randomAgreementChoice(rng, plural, split === 'eval' ? !plural : undefined)));
}

// ---- filler -----------------------------------------------------------------------------------

export function randomFiller(rng: Rng, position: Position): Sentence {
  const t = rng.pick(usable('filler', FILLER_TEMPLATES, 'train', position));
  const b: Bindings = {
    ANIMAL: rng.pick(ANIMAL_SOUNDS)[0], PLACE: rng.pick(PLACES), ADJ: rng.pick(ADJECTIVES),
    VERB: rng.pick(FILLER_VERBS), TIME: rng.pick(TIMES), THING: rng.pick(THINGS), OBJ: rng.pick(OBJECTS),
  };
  return sentence(t, b);
}

// ---- induction --------------------------------------------------------------------------------

/** `len` DISTINCT words from the induction pool (partial Fisher-Yates), so each next word is unique. */
export function randomWordSequence(rng: Rng, len: number): string[] {
  const pool = [...inductionPool()];
  const n = Math.min(len, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.slice(0, n);
}

// LIMITATION: induction texts are bare word lists; they start with a space, which no other text does.
/**
 * " w1 ... wL w1 ... wL ...": the sequence `repeats` times (default twice). The text starts with a
 * space so that every word, including the first, is its spaced token (" w1"), and the copies are
 * identical token runs.
 */
export function inductionText(words: readonly string[], repeats = 2): string {
  const once = words.map((w) => ' ' + w).join('');
  return once.repeat(repeats);
}

/** Most words an induction text holds (all copies), so that it fits a 40-token training row. */
export const INDUCTION_MAX_WORDS = 40;

/**
 * Copies of an L-word run in one induction text: as many as fit in INDUCTION_MAX_WORDS, from 2 to
 * 4. Short runs repeated often teach a previous-token head first (period 2 is solved by it alone),
 * which the induction head then builds on; with only two copies of long runs, a small model sits on
 * a long loss plateau (measured: no copying after 800 steps of pure induction data).
 */
export function inductionRepeats(length: number): number {
  return Math.max(2, Math.min(4, Math.floor(INDUCTION_MAX_WORDS / length)));
}
