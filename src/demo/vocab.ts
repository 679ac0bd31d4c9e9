/**
 * The demo's word-level vocabulary, derived from the templates and world lists.
 *
 * Tokens are GPT-2 byte-level pre-tokens: a word keeps its leading space as `Ġ` (" Mary" ->
 * "ĠMary"), a text-initial word has none ("When"), punctuation is its own token (",", ".").
 * Non-goals: subwords; any word not listed here encodes as `<unk>`.
 */
import { ALL_TEMPLATES, canFollow, canOpenText, parseTemplate } from './templates.js';
import { inductionPool } from './world.js';
import { LlmdbgError } from '../errors.js';

/** Llama-like specials, at ids 0..3. */
export const SPECIAL_TOKENS = ['<unk>', '<s>', '</s>', '<pad>'] as const;
export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const PAD_ID = 3;

/** GPT-2's byte -> printable-character table (a space becomes "Ġ", U+0120). */
function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  return table;
}
const BYTE_TABLE = bytesToUnicode();
const UTF8 = new TextEncoder();

/** The pattern GPT-2's (and Tokenizers.js's) ByteLevel pre-tokenizer splits text with. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Byte-level pre-tokens of `text`, exactly as the tokenizer's ByteLevel pre-tokenizer makes them. */
export function byteLevelPieces(text: string): string[] {
  return (text.match(GPT2_SPLIT) ?? []).map((p) => Array.from(UTF8.encode(p), (b) => BYTE_TABLE[b]!).join(''));
}

/** The byte-level token for a word with or without a leading space. */
export function wordToken(word: string, leadingSpace: boolean): string {
  return byteLevelPieces((leadingSpace ? ' ' : '') + word).join('');
}

export interface Vocabulary {
  /** Token strings by id. */
  readonly tokens: readonly string[];
  /** Token string -> id. */
  readonly ids: ReadonlyMap<string, number>;
}

/** Sort key: punctuation first, then words case-insensitively, bare form before the spaced form. */
function compareTokens(a: string, b: string): number {
  const key = (t: string): [number, string, string] => {
    const word = t.replace(/^Ġ/, '');
    return [/^[A-Za-z]/.test(word) ? 1 : 0, word.toLowerCase(), t];
  };
  const [ca, wa, ra] = key(a);
  const [cb, wb, rb] = key(b);
  if (ca !== cb) return ca - cb;
  if (wa !== wb) return wa < wb ? -1 : 1;
  return ra === rb ? 0 : ra < rb ? -1 : 1;
}

let cached: Vocabulary | undefined;

// LIMITATION: names, countries and capitals exist only as spaced tokens ("ĠParis"), because the
// corpus never starts a text with them; a prompt that STARTS with one ("Paris is ...") encodes it
// as <unk>. Start prompts with an opening word the corpus uses ("The", "When", ...).

/**
 * Every token the corpus generator can emit, and nothing else (deterministic order).
 * A template's first piece is text-initial (bare) when it may open a text and spaced when it
 * may follow another sentence; other pieces keep the lead written in the template.
 */
export function buildVocabulary(): Vocabulary {
  if (cached) return cached;
  const set = new Set<string>();
  for (const t of ALL_TEMPLATES) {
    parseTemplate(t.text).forEach((piece, i) => {
      const leads: boolean[] = i > 0 ? [piece.lead === ' '] : [...(canOpenText(t) ? [false] : []), ...(canFollow(t) ? [true] : [])];
      const values = piece.slot !== undefined ? t.slots[piece.slot] : [piece.word!];
      if (values === undefined) throw new LlmdbgError('internal', `template ${t.id} uses slot {${piece.slot}} with no value list`);
      for (const v of values) for (const lead of leads) set.add(wordToken(v, lead));
    });
  }
  for (const w of inductionPool()) set.add(wordToken(w, true));
  const tokens = [...SPECIAL_TOKENS, ...[...set].sort(compareTokens)];
  cached = { tokens, ids: new Map(tokens.map((t, i) => [t, i])) };
  return cached;
}
