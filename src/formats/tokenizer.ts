/**
 * Tokenizers from a model folder: `tokenizer.json` (+ `tokenizer_config.json`), or GPT-2's
 * `vocab.json` + `merges.txt` turned into the equivalent byte-level BPE `tokenizer.json`.
 * Everything goes through `@huggingface/tokenizers`; no code from the folder is ever run.
 * A folder without a tokenizer still loads: commands then take token ids only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LlmdbgError } from '../errors.js';

export interface TextTokenizer {
  /** Token ids for text; special tokens (e.g. BOS) are added as the tokenizer's post-processor says. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** The text each token contributes when the ids are decoded together (exact pieces, spaces included). */
  pieces(ids: readonly number[]): string[];
  /** The vocabulary string of one id (e.g. `Ġthe`), or undefined. */
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  readonly source: string;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new LlmdbgError('tokenizer_error', `${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** GPT-2 vocab.json + merges.txt -> an equivalent tokenizer.json object. */
export function gpt2TokenizerJson(vocab: Record<string, number>, mergesTxt: string): object {
  const merges = mergesTxt
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#version'))
    .map((l) => l.replace(/\r$/, ''));
  const eot = vocab['<|endoftext|>'];
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens:
      eot === undefined ? [] : [{ id: eot, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

class HfTokenizer implements TextTokenizer {
  constructor(private readonly tok: Tokenizer, readonly source: string) {}

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    try {
      return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    } catch (e) {
      throw new LlmdbgError('tokenizer_error', `${this.source}: could not encode the prompt (${(e as Error).message})`);
    }
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  pieces(ids: readonly number[]): string[] {
    const out: string[] = [];
    let prev = '';
    for (let i = 0; i < ids.length; i++) {
      const text = this.decode(ids.slice(0, i + 1));
      // A token that ends inside a multi-byte character decodes to U+FFFD: give it an empty piece
      // and let the token that completes the character carry it.
      if (text.endsWith('\uFFFD') && i < ids.length - 1) {
        out.push('');
        continue;
      }
      // Decoders may rewrite earlier text (e.g. a space stripped at the start); fall back to the token's own decode.
      out.push(text.startsWith(prev) ? text.slice(prev.length) : this.decode([ids[i]!]));
      prev = text;
    }
    return out;
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }
}

/** Builds a tokenizer from in-memory tokenizer.json / tokenizer_config.json objects. */
export function tokenizerFromJson(tokenizerJson: object, config: object = {}, source = 'tokenizer.json'): TextTokenizer {
  try {
    return new HfTokenizer(new Tokenizer(tokenizerJson, config), source);
  } catch (e) {
    throw new LlmdbgError('tokenizer_error', `${source}: could not be loaded (${(e as Error).message})`, {
      hint: 'the file must be a Hugging Face tokenizers JSON (a "model" with type BPE, WordPiece, Unigram or WordLevel)',
    });
  }
}

/** Loads the folder's tokenizer, or returns null when it has none. */
export function loadTokenizer(dir: string): TextTokenizer | null {
  const tj = join(dir, 'tokenizer.json');
  const cfgPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(cfgPath) ? (readJson(cfgPath) as object) : {};
  if (existsSync(tj)) return tokenizerFromJson(readJson(tj) as object, config, tj);
  const vocab = join(dir, 'vocab.json');
  const merges = join(dir, 'merges.txt');
  if (existsSync(vocab) && existsSync(merges)) {
    const json = gpt2TokenizerJson(readJson(vocab) as Record<string, number>, readFileSync(merges, 'utf8'));
    return tokenizerFromJson(json, config, `${vocab} + merges.txt`);
  }
  return null;
}
