/**
 * Which token ids an attack may insert: never special tokens (the config's BOS/EOS/PAD ids and the
 * tokenizer's special tokens), by default only tokens that decode to printable text, then the
 * allow and deny lists. An empty result is an error naming the filter that emptied it.
 *
 * Non-goals: word-level or semantic constraints (synonyms, edit distance).
 */
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import type { VocabFilter } from './types.js';

export interface AllowedVocab {
  /** Allowed ids, ascending. */
  ids: number[];
  /** mask[id] = 1 when allowed; length V. */
  mask: Uint8Array;
  /** Provenance: what each filter removed. */
  summary: {
    size: number;
    vocabSize: number;
    allowSpecial: boolean;
    printableOnly: boolean;
    /** False when the model has no tokenizer (the printable filter could not apply). */
    printableApplied: boolean;
    specialExcluded: number;
    unprintableExcluded: number;
    allowList: number | null;
    denyList: number;
    note?: string;
  };
}

interface TokenClasses {
  special: Uint8Array;
  printable: Uint8Array | null;
}

const classesCache = new WeakMap<Model, TokenClasses>();

/** Control characters, lone surrogates and the U+FFFD replacement character (broken UTF-8). */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\uFFFD]/u;

/** True when a decoded piece is non-empty printable text. */
export function isPrintable(text: string): boolean {
  return text.length > 0 && !UNPRINTABLE.test(text);
}

/**
 * Special and printable classes of every id, computed once per model. A tokenizer special token
 * is one that decodes to text normally but to nothing with `skipSpecialTokens`.
 */
function tokenClasses(model: Model): TokenClasses {
  const hit = classesCache.get(model);
  if (hit) return hit;
  const V = model.config.vocabSize;
  const special = new Uint8Array(V);
  const c = model.config;
  for (const id of [c.bosTokenId, c.padTokenId, ...c.eosTokenIds]) if (id !== null && id >= 0 && id < V) special[id] = 1;
  let printable: Uint8Array | null = null;
  const tok = model.tokenizer;
  if (tok) {
    printable = new Uint8Array(V);
    for (let id = 0; id < V; id++) {
      const text = tok.decode([id]);
      if (text.length > 0 && tok.decode([id], { skipSpecialTokens: true }).length === 0) special[id] = 1;
      printable[id] = isPrintable(text) ? 1 : 0;
    }
  }
  const out = { special, printable };
  classesCache.set(model, out);
  return out;
}

function checkIdList(model: Model, ids: readonly number[], what: string): void {
  const V = model.config.vocabSize;
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new LlmdbgError('token_out_of_range', `vocabulary ${what} list: token id ${id} is outside the vocabulary [0, ${V})`, { hint: `ids must be integers from 0 to ${V - 1}`, details: { id, vocabSize: V } });
    }
  }
}

/** Applies the filter; throws `empty_vocabulary` when nothing is left. */
export function allowedVocab(model: Model, filter: VocabFilter = {}): AllowedVocab {
  const V = model.config.vocabSize;
  const allowSpecial = filter.allowSpecial ?? false;
  const printableOnly = filter.printableOnly ?? true;
  if (filter.allow) checkIdList(model, filter.allow, 'allow');
  if (filter.deny) checkIdList(model, filter.deny, 'deny');
  const cls = tokenClasses(model);
  const mask = new Uint8Array(V).fill(1);
  let specialExcluded = 0;
  let unprintableExcluded = 0;
  for (let id = 0; id < V; id++) {
    if (!allowSpecial && cls.special[id]) {
      mask[id] = 0;
      specialExcluded++;
    } else if (printableOnly && cls.printable && !cls.printable[id]) {
      mask[id] = 0;
      unprintableExcluded++;
    }
  }
  const afterClasses = mask.reduce((a, b) => a + b, 0);
  if (filter.allow) {
    const keep = new Uint8Array(V);
    for (const id of filter.allow) keep[id] = 1;
    for (let id = 0; id < V; id++) mask[id] = mask[id]! & keep[id]!;
  }
  const afterAllow = mask.reduce((a, b) => a + b, 0);
  for (const id of filter.deny ?? []) mask[id] = 0;
  const ids: number[] = [];
  for (let id = 0; id < V; id++) if (mask[id]) ids.push(id);
  const printableApplied = printableOnly && cls.printable !== null;
  if (ids.length === 0) {
    const culprit = afterClasses === 0
      ? `the ${[!allowSpecial ? 'no-special-tokens' : '', printableApplied ? 'printable-only' : ''].filter(Boolean).join(' and ')} filter`
      : afterAllow === 0 ? `the allow list (${filter.allow!.length} ids, none of them allowed by the other filters)` : `the deny list (${filter.deny!.length} ids)`;
    throw new LlmdbgError('empty_vocabulary', `no token id is left to insert: ${culprit} removed all ${V} ids (special excluded: ${specialExcluded}, unprintable excluded: ${unprintableExcluded})`, {
      hint: 'widen the allow list, shorten the deny list, or allow unprintable/special tokens',
      details: { vocabSize: V, specialExcluded, unprintableExcluded, allow: filter.allow?.length ?? null, deny: filter.deny?.length ?? 0 },
    });
  }
  return {
    ids,
    mask,
    summary: {
      size: ids.length,
      vocabSize: V,
      allowSpecial,
      printableOnly,
      printableApplied,
      specialExcluded,
      unprintableExcluded,
      allowList: filter.allow ? filter.allow.length : null,
      denyList: filter.deny?.length ?? 0,
      ...(printableOnly && !cls.printable ? { note: 'the model has no tokenizer: ids only, the printable-only filter could not apply (every non-special id is allowed)' } : {}),
    },
  };
}
