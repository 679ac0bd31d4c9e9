/**
 * `tokenizer.json` / `tokenizer_config.json` for the demo vocabulary, Hugging Face format.
 *
 * A GPT-2 style ByteLevel tokenizer whose BPE model has NO merges and `ignore_merges: true`, so
 * each pre-token is looked up whole: a word-level tokenizer that Tokenizers.js (which has no
 * `WordLevel` model) and the Rust `tokenizers` crate both load. BOS is added Llama-style.
 * Non-goals: subword fallback; an unknown word becomes one `<unk>` (adjacent ones fuse).
 */
import { BOS_ID, SPECIAL_TOKENS, buildVocabulary, type Vocabulary } from './vocab.js';

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The subset of the tokenizer.json schema this file writes. */
export interface TokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: Record<string, unknown>;
  post_processor: Record<string, unknown>;
  decoder: Record<string, unknown>;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: string;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

export interface TokenizerConfigJson {
  tokenizer_class: 'PreTrainedTokenizerFast';
  bos_token: string;
  eos_token: string;
  unk_token: string;
  pad_token: string;
  add_bos_token: boolean;
  add_eos_token: boolean;
  add_prefix_space: boolean;
  clean_up_tokenization_spaces: boolean;
  model_max_length?: number;
}

const [UNK, BOS, EOS, PAD] = SPECIAL_TOKENS;

// LIMITATION: Tokenizers.js 0.2.0 returns no offsets. Every token here decodes to exactly its
// span of the text (decode([id]) of "ĠMary" is " Mary"), so offsets are the running sums of
// those lengths (except for <unk>, whose span is lost).
// LIMITATION: Tokenizers.js applies `fuse_unk` across a whole text section, so ADJACENT unknown
// words fuse into one <unk>; the Rust crate fuses per word. Loading in the Rust crate (which
// needs `ignore_merges`, tokenizers >= 0.19) is by construction, not tested here.

export function buildTokenizerJson(vocab: Vocabulary = buildVocabulary()): TokenizerJson {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: BOS, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [BOS]: { id: BOS, ids: [BOS_ID], tokens: [BOS] } },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: false,
      ignore_merges: true,
      vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i])),
      merges: [],
    },
  };
}

/** `add_bos_token: true`, no EOS on encode; spaces are never "cleaned up" on decode. */
export function buildTokenizerConfig(opts: { modelMaxLength?: number } = {}): TokenizerConfigJson {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: BOS,
    eos_token: EOS,
    unk_token: UNK,
    pad_token: PAD,
    add_bos_token: true,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    ...(opts.modelMaxLength === undefined ? {} : { model_max_length: opts.modelMaxLength }),
  };
}
