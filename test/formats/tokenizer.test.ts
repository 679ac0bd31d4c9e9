// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Tokenizers: GPT-2's vocab.json + merges.txt become a working byte-level BPE tokenizer, and
 * per-token pieces concatenate to exactly the decoded text.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { gpt2TokenizerJson, tokenizerFromJson } from '../../src/formats/tokenizer.js';

// A tiny byte-level BPE: every printable byte as in GPT-2's byte-to-unicode table, plus two merges.
function byteUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i]!)]));
}

it('vocab.json + merges.txt round-trips text and applies merges', () => {
  const bu = byteUnicode();
  const vocab: Record<string, number> = {};
  let id = 0;
  for (const ch of bu.values()) vocab[ch] = id++;
  const sp = bu.get(32)!; // 'Ġ'
  vocab['h' + 'i'] = id++;
  vocab[sp + 'hi'] = id++;
  vocab['<|endoftext|>'] = id++;
  const merges = `#version: 0.2\nh i\n${sp} hi\n`;
  const tok = tokenizerFromJson(gpt2TokenizerJson(vocab, merges));
  const ids = tok.encode('hi hi!');
  assert.deepEqual(ids, [vocab['hi'], vocab[sp + 'hi'], vocab['!']]);
  assert.equal(tok.decode(ids), 'hi hi!');
  assert.deepEqual(tok.pieces(ids), ['hi', ' hi', '!']);
  assert.equal(tok.idToToken(vocab[sp + 'hi']!), sp + 'hi');
  // bytes outside ASCII survive
  const u = tok.encode('é ∑');
  assert.equal(tok.decode(u), 'é ∑');
  assert.equal(tok.pieces(u).join(''), 'é ∑');
});
