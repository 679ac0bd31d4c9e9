/**
 * Sentence templates for the demo corpus, each tagged with its behaviour and split.
 *
 * `{SLOT}` marks a one-word slot; `answer` names the slot the model must predict (always the
 * last slot, followed only by punctuation). `split: 'eval'` templates are held out of training.
 * Non-goals: choosing values or mixing behaviours (corpus.ts and suites.ts do that).
 */
import { LlmdbgError } from '../errors.js';
import {
  ADJECTIVES, ANIMAL_SOUNDS, CAPITALS, FILLER_VERBS, IOI_NAMES, NOUN_PAIRS, OBJECTS, PEOPLE_JOBS,
  PLACES, PREPOSITIONS, THINGS, TIMES,
} from './world.js';

export type Behaviour = 'fact' | 'ioi' | 'induction' | 'agreement' | 'filler';
export type Split = 'train' | 'eval';
export type Relation = 'capital' | 'job' | 'sound';

export interface Template {
  id: string;
  behaviour: Behaviour;
  split: Split;
  /** Text with `{SLOT}` placeholders. */
  text: string;
  /** Every value each slot can take (drives the vocabulary). */
  slots: Readonly<Record<string, readonly string[]>>;
  /** Slot holding the expected next word, for templates that can become prompts. */
  answer?: string;
  /** Fact templates: which relation, and whether the answer is the object (forward) or subject. */
  relation?: Relation;
  direction?: 'forward' | 'reverse';
}

/** One-word pieces of a template, GPT-2 style: a word or slot keeps the space before it. */
export interface Piece {
  lead: '' | ' ';
  /** A literal word or punctuation run, or undefined for a slot. */
  word?: string;
  slot?: string;
}

const PIECE_RE = / ?\{[A-Z0-9_]+\}| ?[A-Za-z]+| ?[^\sA-Za-z{]+/g;

export function parseTemplate(text: string): Piece[] {
  const pieces: Piece[] = [];
  let consumed = 0;
  for (const m of text.matchAll(PIECE_RE)) {
    if (m.index !== consumed) break;
    consumed += m[0].length;
    const lead = m[0].startsWith(' ') ? ' ' : '';
    const body = lead ? m[0].slice(1) : m[0];
    pieces.push(body.startsWith('{') ? { lead, slot: body.slice(1, -1) } : { lead, word: body });
  }
  if (consumed !== text.length) {
    throw new LlmdbgError('internal', `template ${JSON.stringify(text)} has unsupported text at offset ${consumed}`, { hint: 'use letters, single spaces, {SLOT} and punctuation only' });
  }
  return pieces;
}

/** Fills every `{SLOT}`; a missing binding is a programming error. */
export function fillTemplate(text: string, bindings: Readonly<Record<string, string>>): string {
  return text.replace(/\{([A-Z0-9_]+)\}/g, (_, k: string) => {
    const v = bindings[k];
    if (v === undefined) throw new LlmdbgError('internal', `no value for slot {${k}} in template ${JSON.stringify(text)}`);
    return v;
  });
}

/** Splits a filled template at its answer: `prompt` ends before the answer's leading space. */
export function promptOf(t: Template, bindings: Readonly<Record<string, string>>): { prompt: string; expected: string } {
  const marker = ` {${t.answer ?? ''}}`;
  const at = t.answer === undefined ? -1 : t.text.lastIndexOf(marker);
  if (at < 0) throw new LlmdbgError('internal', `template ${t.id} has no space-preceded answer slot`);
  return { prompt: fillTemplate(t.text.slice(0, at), bindings), expected: ' ' + bindings[t.answer!]! };
}

// ---- slot value lists -------------------------------------------------------------------------

const NAMES: readonly string[] = IOI_NAMES;
const NOUNS: readonly string[] = NOUN_PAIRS.flat();
const RELATION_SLOTS: Record<Relation, { X: readonly string[]; Y: readonly string[] }> = {
  capital: { X: CAPITALS.map((p) => p[0]), Y: CAPITALS.map((p) => p[1]) },
  job: { X: PEOPLE_JOBS.map((p) => p[0]), Y: [...new Set(PEOPLE_JOBS.map((p) => p[1]))] },
  sound: { X: ANIMAL_SOUNDS.map((p) => p[0]), Y: ANIMAL_SOUNDS.map((p) => p[1]) },
};
const IOI_SLOTS = { N1: NAMES, N2: NAMES, S: NAMES, IO: NAMES, PLACE: PLACES, OBJ: OBJECTS };
const AGR_SLOTS = { SUBJ: NOUNS, DIST: NOUNS, PREP: PREPOSITIONS, VERB: ['is', 'are'], ADJ: ADJECTIVES, ADJ2: ADJECTIVES };
const FILLER_SLOTS = {
  ANIMAL: ANIMAL_SOUNDS.map((p) => p[0]), PLACE: PLACES, ADJ: ADJECTIVES, VERB: FILLER_VERBS,
  TIME: TIMES, THING: THINGS, OBJ: OBJECTS,
};

// ---- templates --------------------------------------------------------------------------------

function fact(relation: Relation, split: Split, direction: 'forward' | 'reverse', text: string, n: number): Template {
  return { id: `fact/${relation}/${split}/${n}`, behaviour: 'fact', split, text, slots: RELATION_SLOTS[relation], answer: direction === 'forward' ? 'Y' : 'X', relation, direction };
}

// LIMITATION: held-out fact templates are new openings around a trained relational core
// ("... the capital of X is", "... X has its capital in"): they test recall under an unseen
// context, not under a wholly new phrasing of the relation, which a model this small cannot learn
// from so few paraphrases. Only forward (subject -> answer) prompts are evaluated.
export const FACT_TEMPLATES: readonly Template[] = [
  fact('capital', 'train', 'forward', 'The capital of {X} is {Y}.', 0),
  fact('capital', 'train', 'forward', '{X} has its capital in {Y}.', 1),
  fact('capital', 'train', 'forward', 'In {X}, the capital city is {Y}.', 2),
  fact('capital', 'train', 'forward', 'We know that the capital of {X} is {Y}.', 3),
  fact('capital', 'train', 'forward', 'The government of {X} sits in {Y}.', 4),
  fact('capital', 'train', 'reverse', '{Y} is the capital of {X}.', 5),
  fact('capital', 'train', 'reverse', 'The city of {Y} is the capital of {X}.', 6),
  fact('capital', 'eval', 'forward', 'Everyone knows that the capital of {X} is {Y}.', 0),
  fact('capital', 'eval', 'forward', 'As you may know, {X} has its capital in {Y}.', 1),

  fact('job', 'train', 'forward', '{X} is a {Y}.', 0),
  fact('job', 'train', 'forward', '{X} works as a {Y}.', 1),
  fact('job', 'train', 'forward', 'Our friend {X} is a {Y}.', 2),
  fact('job', 'train', 'forward', 'In town, {X} works as a {Y}.', 3),
  fact('job', 'train', 'forward', 'We know that {X} is a {Y}.', 4),
  fact('job', 'eval', 'forward', 'Everyone knows that {X} works as a {Y}.', 0),
  fact('job', 'eval', 'forward', 'As you may know, {X} is a {Y}.', 1),

  fact('sound', 'train', 'forward', 'The {X} says {Y}.', 0),
  fact('sound', 'train', 'forward', 'A {X} says {Y}.', 1),
  fact('sound', 'train', 'forward', 'On the farm, the {X} says {Y}.', 2),
  fact('sound', 'train', 'forward', 'We know that the {X} says {Y}.', 3),
  fact('sound', 'eval', 'forward', 'Everyone knows that the {X} says {Y}.', 0),
  fact('sound', 'eval', 'forward', 'As you may know, a {X} says {Y}.', 1),
];

function ioi(split: Split, text: string, n: number): Template {
  return { id: `ioi/${split}/${n}`, behaviour: 'ioi', split, text, slots: IOI_SLOTS, answer: 'IO' };
}

/** {N1} and {N2} are {IO} and {S} in either order; {S} (the subject) is repeated, {IO} is the answer. */
export const IOI_TEMPLATES: readonly Template[] = [
  ioi('train', 'When {N1} and {N2} went to the {PLACE}, {S} gave a {OBJ} to {IO}.', 0),
  ioi('train', 'After {N1} and {N2} went to the {PLACE}, {S} gave a {OBJ} to {IO}.', 1),
  ioi('train', 'While {N1} and {N2} were at the {PLACE}, {S} handed a {OBJ} to {IO}.', 2),
  ioi('train', 'Then {N1} and {N2} had a long day at the {PLACE}. {S} gave a {OBJ} to {IO}.', 3),
  ioi('train', 'When {N1} and {N2} arrived at the {PLACE}, {S} passed a {OBJ} to {IO}.', 4),
  ioi('train', 'Yesterday {N1} and {N2} met at the {PLACE}, and {S} sent a {OBJ} to {IO}.', 5),
  ioi('train', 'Later, {N1} and {N2} visited the {PLACE}. {S} showed a {OBJ} to {IO}.', 6),
  ioi('eval', 'As {N1} and {N2} walked to the {PLACE}, {S} gave a {OBJ} to {IO}.', 0),
  ioi('eval', 'Once {N1} and {N2} got to the {PLACE}, {S} brought a {OBJ} to {IO}.', 1),
];

function agr(split: Split, text: string, n: number): Template {
  return { id: `agreement/${split}/${n}`, behaviour: 'agreement', split, text, slots: AGR_SLOTS, answer: 'VERB' };
}

/** {VERB} agrees with {SUBJ}; {DIST} is the distractor noun inside the prepositional phrase. */
export const AGREEMENT_TEMPLATES: readonly Template[] = [
  agr('train', 'The {SUBJ} {PREP} the {DIST} {VERB} {ADJ}.', 0),
  agr('train', 'I think the {SUBJ} {PREP} the {DIST} {VERB} {ADJ}.', 1),
  agr('train', 'Look, the {SUBJ} {PREP} the {DIST} {VERB} {ADJ} today.', 2),
  agr('train', 'She said the {SUBJ} {PREP} the {ADJ2} {DIST} {VERB} {ADJ}.', 3),
  agr('train', 'The {SUBJ} {PREP} the {ADJ2} {DIST} {VERB} {ADJ}.', 4),
  agr('eval', 'We saw that the {SUBJ} {PREP} the {DIST} {VERB} {ADJ}.', 0),
  agr('eval', 'It seems the {SUBJ} {PREP} the {ADJ2} {DIST} {VERB} {ADJ}.', 1),
];

function filler(text: string, n: number): Template {
  return { id: `filler/${n}`, behaviour: 'filler', split: 'train', text, slots: FILLER_SLOTS };
}

/** General text; also the only place the words of held-out templates' openers are trained. */
export const FILLER_TEMPLATES: readonly Template[] = [
  filler('The {ANIMAL} {VERB} in the {PLACE}.', 0),
  filler('The {ADJ} {ANIMAL} {VERB} near the {PLACE}.', 1),
  filler('Everyone likes the {ADJ} {PLACE}.', 2),
  filler('Everyone knows that the {ANIMAL} {VERB} in the {PLACE}.', 3),
  filler('As the {TIME} came, the {ANIMAL} walked to the {PLACE}.', 4),
  filler('Once the {ANIMAL} got to the {PLACE}, it {VERB} there.', 5),
  filler('As you may know, the {ANIMAL} {VERB} by the {PLACE}.', 6),
  filler('It seems the {THING} was {ADJ} that {TIME}.', 7),
  filler('We saw that the {ANIMAL} {VERB} by the {PLACE}.', 8),
  filler('She brought the {OBJ} to the {PLACE}.', 9),
  filler('In the {TIME}, the {ANIMAL} {VERB} by the {PLACE}.', 10),
  filler('Then the {ANIMAL} {VERB} all {TIME}.', 11),
  filler('He found a {ADJ} {OBJ} at the {PLACE}.', 12),
  filler('They {VERB} at the {PLACE} in the {TIME}.', 13),
  filler('The {THING} was {ADJ} that {TIME}.', 14),
];

export const ALL_TEMPLATES: readonly Template[] = [...FACT_TEMPLATES, ...IOI_TEMPLATES, ...AGREEMENT_TEMPLATES, ...FILLER_TEMPLATES];

/** Whether a template may open a text (its first word is literal, so its bare form is in the vocabulary). */
export function canOpenText(t: Template): boolean {
  return parseTemplate(t.text)[0]?.word !== undefined;
}

/** Whether a template may follow another sentence in the same text (IOI texts are one sentence). */
export function canFollow(t: Template): boolean {
  return t.behaviour !== 'ioi';
}

/** A regex matching any filling of `t` (slots as one word), to check held-out templates literally. */
export function templateRegex(t: Template): RegExp {
  const esc = t.text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(esc.replace(/\\?\{[A-Z0-9_]+\\?\}/g, '[A-Za-z]+'));
}
