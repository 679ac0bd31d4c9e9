// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Tests that the demo tokenizer.json loads in @huggingface/tokenizers (Tokenizers.js) and
 * behaves as a word-level GPT-2 style tokenizer: whole-word tokens with `Ġ` for the leading
 * space, BOS added, exact round-trips, `<unk>` for unknown words.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tokenizers from '@huggingface/tokenizers';
import { Tokenizer } from '@huggingface/tokenizers';
import { BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, buildTokenizerConfig, buildTokenizerJson, buildVocabulary, byteLevelPieces } from '../../src/demo/index.js';

const tok = new Tokenizer(buildTokenizerJson(), buildTokenizerConfig());
// Under NodeNext the package's .d.ts re-exports (extensionless) do not resolve; type it here.
const { ByteLevelPreTokenizer } = tokenizers as unknown as {
  ByteLevelPreTokenizer: new (cfg: object) => { pre_tokenize_text(text: string): string[] };
};
const vocab = buildVocabulary();

test('vocabulary is small, unique, with Llama-style specials first', () => {
  assert.ok(vocab.tokens.length >= 300 && vocab.tokens.length <= 600, `vocab size ${vocab.tokens.length}`);
  assert.equal(new Set(vocab.tokens).size, vocab.tokens.length);
  assert.deepEqual(vocab.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<pad>']);
  assert.deepEqual([UNK_ID, BOS_ID, EOS_ID, PAD_ID], [0, 1, 2, 3]);
  assert.deepEqual(SPECIAL_TOKENS.map((t) => tok.token_to_id(t)), [0, 1, 2, 3]);
  assert.equal(tok.get_vocab().size, vocab.tokens.length);
});

test('the IOI example tokenizes into whole words, answer is one token', () => {
  const text = 'When Mary and John went to the market, John gave a book to';
  const enc = tok.encode(text);
  assert.deepEqual(enc.tokens, ['<s>', 'When', 'ĠMary', 'Ġand', 'ĠJohn', 'Ġwent', 'Ġto', 'Ġthe', 'Ġmarket', ',', 'ĠJohn', 'Ġgave', 'Ġa', 'Ġbook', 'Ġto']);
  assert.equal(enc.ids[0], BOS_ID);
  const ans = tok.encode(' Mary', { add_special_tokens: false });
  assert.deepEqual(ans.tokens, ['ĠMary']);
  assert.equal(tok.decode(ans.ids), ' Mary');
  assert.equal(tok.decode(enc.ids, { skip_special_tokens: true }), text);
  assert.equal(tok.decode(enc.ids), '<s>' + text);
});

test('unknown words become <unk> without crashing; adjacent unknowns fuse', () => {
  const enc = tok.encode('The zebra sat. Hello Mary', { add_special_tokens: false });
  assert.deepEqual(enc.tokens, ['The', '<unk>', 'Ġsat', '.', '<unk>', 'ĠMary']);
  assert.deepEqual(tok.encode('xylophone quasar', { add_special_tokens: false }).ids, [UNK_ID]);
  assert.deepEqual(tok.encode('').ids, [BOS_ID]);
  assert.deepEqual(tok.encode('Paris', { add_special_tokens: false }).ids, [UNK_ID], 'capitals exist only with a leading space');
});

test('every vocabulary token decodes to its own text and re-encodes to itself', () => {
  for (let id = SPECIAL_TOKENS.length; id < vocab.tokens.length; id++) {
    const text = tok.decode([id]);
    assert.equal(text, vocab.tokens[id]!.replace(/^Ġ/, ' '));
    assert.deepEqual(tok.encode(text, { add_special_tokens: false }).ids, [id], `token ${vocab.tokens[id]}`);
  }
});

test('byteLevelPieces matches the library ByteLevel pre-tokenizer', () => {
  const pre = new ByteLevelPreTokenizer({ type: 'ByteLevel', add_prefix_space: false, use_regex: true });
  for (const s of ['When Mary and John went to the market, John gave a book to', ' a b  c', "It's 42 caf\u00e9s!", 'x.y,z']) {
    assert.deepEqual(byteLevelPieces(s), pre.pre_tokenize_text(s));
  }
});

test('per-token decodes concatenate to the text, so offsets are cumulative lengths', () => {
  const text = 'The keys to the cabinet are old. Everyone knows that the capital of France is Paris.';
  const ids = tok.encode(text, { add_special_tokens: false }).ids;
  const pieces = ids.map((id: number) => tok.decode([id]));
  assert.equal(pieces.join(''), text);
});

test('tokenizer_config.json declares the specials and add_bos_token', () => {
  const cfg = buildTokenizerConfig();
  assert.equal(cfg.bos_token, '<s>');
  assert.equal(cfg.eos_token, '</s>');
  assert.equal(cfg.unk_token, '<unk>');
  assert.equal(cfg.pad_token, '<pad>');
  assert.equal(cfg.add_bos_token, true);
  assert.equal(cfg.add_eos_token, false);
  assert.equal(buildTokenizerConfig({ modelMaxLength: 64 }).model_max_length, 64);
  const json = buildTokenizerJson();
  assert.equal(json.model.type, 'BPE');
  assert.equal(json.model.merges.length, 0);
  assert.equal(Object.keys(json.model.vocab).length, vocab.tokens.length);
});
