/**
 * The fixed demo "world": entities, their attributes and the word lists the corpus draws from.
 *
 * Every value is ONE word (letters only) so it becomes one token with the word-level tokenizer.
 * The held-out IOI name pairings are a property of the world (fixed, seed-independent).
 * Non-goals: realism or size; this is data, not logic (templates live in templates.ts).
 */
import { Rng } from '../engine/rng.js';

/** Country -> capital (real, single-word capitals). */
export const CAPITALS: ReadonlyArray<readonly [country: string, capital: string]> = [
  ['France', 'Paris'], ['Italy', 'Rome'], ['Spain', 'Madrid'], ['Germany', 'Berlin'],
  ['Japan', 'Tokyo'], ['China', 'Beijing'], ['Egypt', 'Cairo'], ['Kenya', 'Nairobi'],
  ['Peru', 'Lima'], ['Chile', 'Santiago'], ['Canada', 'Ottawa'], ['Russia', 'Moscow'],
  ['Greece', 'Athens'], ['Turkey', 'Ankara'], ['Norway', 'Oslo'], ['Sweden', 'Stockholm'],
  ['Poland', 'Warsaw'], ['Cuba', 'Havana'], ['Iran', 'Tehran'], ['Iraq', 'Baghdad'],
  ['Nepal', 'Kathmandu'], ['Ghana', 'Accra'], ['Austria', 'Vienna'], ['Portugal', 'Lisbon'],
  ['Ireland', 'Dublin'], ['Hungary', 'Budapest'], ['Finland', 'Helsinki'], ['Thailand', 'Bangkok'],
  ['Vietnam', 'Hanoi'], ['Morocco', 'Rabat'],
];

/** Jobs (consonant-initial, so "a {job}" is always grammatical). */
export const JOBS = [
  'doctor', 'teacher', 'baker', 'farmer', 'pilot', 'lawyer', 'nurse', 'painter', 'singer', 'writer',
  'dancer', 'driver', 'cook', 'builder', 'tailor', 'sailor', 'judge', 'poet', 'banker', 'plumber',
] as const;

/** Person -> job. These names are NOT used for IOI (keeps the two behaviours apart). */
export const PEOPLE_JOBS: ReadonlyArray<readonly [person: string, job: string]> = [
  ['Ada', 'doctor'], ['Bruno', 'teacher'], ['Carmen', 'baker'], ['Dmitri', 'farmer'], ['Elena', 'pilot'],
  ['Farid', 'lawyer'], ['Greta', 'nurse'], ['Hiro', 'painter'], ['Ingrid', 'singer'], ['Jonas', 'writer'],
  ['Keiko', 'dancer'], ['Lars', 'driver'], ['Mira', 'cook'], ['Nico', 'builder'], ['Olga', 'tailor'],
  ['Pablo', 'sailor'], ['Quinn', 'judge'], ['Rosa', 'poet'], ['Stefan', 'banker'], ['Tara', 'plumber'],
  ['Umar', 'doctor'], ['Vera', 'teacher'], ['Wendell', 'pilot'], ['Xenia', 'writer'], ['Yusuf', 'baker'],
  ['Zara', 'singer'], ['Boris', 'farmer'], ['Celine', 'lawyer'], ['Dario', 'cook'], ['Freya', 'sailor'],
];

/** Animal -> the sound it makes. */
export const ANIMAL_SOUNDS: ReadonlyArray<readonly [animal: string, sound: string]> = [
  ['cow', 'moo'], ['dog', 'woof'], ['cat', 'meow'], ['pig', 'oink'], ['sheep', 'baa'], ['duck', 'quack'],
  ['horse', 'neigh'], ['crow', 'caw'], ['snake', 'hiss'], ['lion', 'roar'], ['bee', 'buzz'], ['frog', 'ribbit'],
];

/** First names for indirect object identification (IOI). */
export const IOI_NAMES = [
  'Mary', 'John', 'Anna', 'Tom', 'Lucy', 'Paul', 'Emma', 'Jack', 'Sarah', 'Mark',
  'Kate', 'David', 'Alice', 'Peter', 'Laura', 'James', 'Rose', 'Daniel', 'Julia', 'Adam',
  'Nina', 'Sam', 'Clara', 'Ben', 'Lily', 'Max', 'Eva', 'Leo', 'Sophie', 'Oscar',
  'Grace', 'Hugo', 'Ruby', 'Felix', 'Ella', 'Victor', 'Iris', 'Simon', 'Hannah', 'Luke',
] as const;

/** Places ("went to the {place}"). */
export const PLACES = [
  'market', 'park', 'store', 'school', 'station', 'library', 'garden', 'beach',
  'office', 'museum', 'cafe', 'river', 'church', 'bakery', 'zoo', 'farm',
] as const;

/** Objects handed over in IOI (consonant-initial, for "a {object}"). */
export const OBJECTS = [
  'book', 'key', 'ball', 'cup', 'pen', 'bag', 'hat', 'letter', 'gift', 'ring',
  'phone', 'coin', 'drink', 'flower', 'card', 'map', 'box', 'lamp', 'toy', 'cake',
] as const;

/** Singular/plural noun pairs for subject-verb agreement (each form one token). */
export const NOUN_PAIRS: ReadonlyArray<readonly [singular: string, plural: string]> = [
  ['key', 'keys'], ['cabinet', 'cabinets'], ['book', 'books'], ['box', 'boxes'], ['door', 'doors'],
  ['table', 'tables'], ['chair', 'chairs'], ['window', 'windows'], ['lamp', 'lamps'], ['picture', 'pictures'],
  ['bottle', 'bottles'], ['letter', 'letters'], ['bag', 'bags'], ['car', 'cars'], ['house', 'houses'],
  ['tree', 'trees'], ['road', 'roads'], ['wall', 'walls'], ['cup', 'cups'], ['bird', 'birds'],
];

/** Prepositions for the distractor phrase ("The key {prep} the cabinets is"). */
export const PREPOSITIONS = ['to', 'near', 'behind', 'under', 'beside', 'on', 'by', 'with', 'above', 'from'] as const;

/** Adjectives (predicates and filler). */
export const ADJECTIVES = [
  'old', 'new', 'red', 'blue', 'big', 'small', 'clean', 'broken', 'heavy', 'open',
  'green', 'white', 'empty', 'full', 'quiet', 'warm',
] as const;

/** Filler vocabulary: intransitive past-tense verbs, times of day, and mass nouns. */
export const FILLER_VERBS = ['ran', 'walked', 'slept', 'sat', 'waited', 'played', 'stayed', 'rested', 'lived', 'stood'] as const;
export const TIMES = ['morning', 'evening', 'night', 'day'] as const;
export const THINGS = ['sun', 'rain', 'wind', 'weather', 'music', 'food'] as const;

let poolCache: readonly string[] | undefined;

/** Words the induction sequences are drawn from: content words, no names, countries or capitals. */
export function inductionPool(): readonly string[] {
  poolCache ??= [...new Set<string>([
    ...PLACES, ...OBJECTS, ...NOUN_PAIRS.flat(), ...ADJECTIVES, ...ANIMAL_SOUNDS.flat(),
    ...JOBS, ...FILLER_VERBS, ...TIMES, ...THINGS,
  ])].sort();
  return poolCache;
}

/** All unordered IOI name pairs, as [i, j] index pairs with i < j, in a fixed order. */
function allPairs(n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
}

/** Fraction of unordered name pairs reserved for evaluation. */
export const HELD_OUT_PAIR_FRACTION = 0.2;

export interface NamePairSplit {
  /** Unordered pairs [a, b] (a before b in IOI_NAMES) allowed in training. */
  train: ReadonlyArray<readonly [string, string]>;
  /** Unordered pairs never co-occurring in training text. */
  heldOut: ReadonlyArray<readonly [string, string]>;
}

let pairSplitCache: NamePairSplit | undefined;

/** The fixed train/held-out split of IOI name pairings (same for every corpus seed). */
export function ioiPairSplit(): NamePairSplit {
  if (pairSplitCache) return pairSplitCache;
  const pairs = allPairs(IOI_NAMES.length);
  new Rng('llmdbg-demo/ioi-pairs').shuffle(pairs);
  const nHeld = Math.round(pairs.length * HELD_OUT_PAIR_FRACTION);
  const named = pairs.map(([i, j]) => [IOI_NAMES[i]!, IOI_NAMES[j]!] as const);
  pairSplitCache = { heldOut: named.slice(0, nHeld), train: named.slice(nHeld) };
  return pairSplitCache;
}

/** A key for an unordered pair, for set lookups. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
