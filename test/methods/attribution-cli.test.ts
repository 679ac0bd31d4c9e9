/**
 * `llmdbg attribute` and `llmdbg gradients` as a user runs them: one JSON object with --json whose
 * scores match the PyTorch reference, one-line errors with stable codes, text targets, words and
 * continuations through a tokenizer (a small word-level tokenizer written next to llama-tiny's
 * weights), the HTML page, and the terminal table.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, cliJson as json, cliFails as fails } from '../helpers/cli.js';
import { assertClose } from '../helpers/close.js';
import { ROOT, fixtureDir } from '../helpers/fixtures.js';
import { SPECIAL_TOKENS, wordToken, type Vocabulary } from '../../src/demo/vocab.js';
import { buildTokenizerConfig, buildTokenizerJson } from '../../src/demo/tokenizer.js';

const GPT2 = fixtureDir('gpt2-tiny');
const ref = (name: string) => JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'attribution', `${name}.json`), 'utf8')) as {
  ids: number[]; saliency_l2: number[]; occlusion_token: number[]; token_baseline: number;
  continuation: { prompt: number[]; continuation: number[]; saliency_l2: number[][] };
  gradients: { loss: number };
};

/** llama-tiny's weights with a 64-token word-level tokenizer (specials at 0..3, BOS added). */
function textModel(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmdbg-attr-'));
  const src = fixtureDir('llama-tiny');
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(src, f), join(dir, f));
  const words = ['The', 'Ġcat', 'Ġsat', 'Ġon', 'Ġthe', 'Ġmat', '.', ',', 'Ġdog', 'Ġran', 'Ġto', 'Ġpark', 'Ġand', 'Ġa', 'Ġhat', 'ĠParis', 'Ġis', 'Ġin', 'ĠFrance', 'Ġred'];
  const tokens: string[] = [...SPECIAL_TOKENS, ...words];
  for (let i = 0; tokens.length < 64; i++) tokens.push(wordToken(`w${i}`, true));
  const vocab: Vocabulary = { tokens, ids: new Map(tokens.map((t, i) => [t, i])) };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(buildTokenizerJson(vocab)));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(buildTokenizerConfig()));
  return dir;
}

describe('llmdbg attribute', () => {
  let TEXT: string;
  before(() => {
    TEXT = textModel();
  });

  it('--json: one object {method, target, tokens, scores, delta, info} matching the reference', () => {
    const r = ref('gpt2-tiny');
    const out = json(['attribute', '--model', GPT2, '--ids', r.ids.join(','), '--method', 'saliency']);
    for (const k of ['method', 'target', 'tokens', 'scores', 'delta', 'info']) assert.ok(k in out, `missing ${k}`);
    assert.equal(out['method'], 'saliency');
    assert.equal(out['delta'], null);
    assertClose('scores', out['scores'] as number[], r.saliency_l2, { atol: 2e-5, rtol: 2e-4 });
    const info = out['info'] as Record<string, unknown>;
    assert.equal(info['method'], 'saliency');
    assert.deepEqual(info['parameters'], { norm: 'l2', target: 'top prediction' });
    assert.ok(typeof info['durationMs'] === 'number' && typeof info['backend'] === 'string');
  });

  it('--continuation-ids and --generate: rows of P+g scores', () => {
    const c = ref('gpt2-tiny').continuation;
    const out = json(['attribute', '--model', GPT2, '--ids', c.prompt.join(','), '--continuation-ids', c.continuation.join(','), '--method', 'saliency']);
    assert.equal(out['kind'], 'continuation');
    assert.equal((out['info'] as { sharedForward: boolean }).sharedForward, true, 'tape reuse works in a fresh process');
    (out['scores'] as number[][]).forEach((row, g) => assertClose(`row ${g}`, row, c.saliency_l2[g]!, { atol: 2e-5, rtol: 2e-4 }));
    const gen = json(['attribute', '--model', GPT2, '--ids', c.prompt.join(','), '--generate', '3', '--method', 'input-x-gradient']);
    assert.equal((gen['scores'] as number[][]).length, 3);
  });

  it('errors are one line with a stable code', () => {
    const ids = ref('gpt2-tiny').ids.join(',');
    fails(['attribute', '--model', GPT2, '--ids', ids], 'invalid_argument', /no --method/);
    fails(['attribute', '--model', GPT2, '--ids', ids, '--method', 'smoothgrd'], 'unknown_method', /closest: smoothgrad/);
    fails(['attribute', '--model', GPT2, '--ids', ids, '--method', 'saliency', '--steps', '8'], 'invalid_argument', /--steps does not apply to --method saliency/);
  });

  it('text model: --prompt, --target text, --foil, words, named baselines, --continuation text', () => {
    const out = json(['attribute', '--model', TEXT, '--prompt', 'The cat sat on the', '--target', ' mat', '--foil', ' hat', '--method', 'occlusion', '--baseline', 'pad']);
    const target = out['target'] as { text: string; foil: { text: string } };
    assert.equal(target.text, ' mat');
    assert.equal(target.foil.text, ' hat');
    assert.deepEqual((out['tokens'] as { text: string }[]).map((t) => t.text), ['<s>', 'The', ' cat', ' sat', ' on', ' the']);
    assert.equal((out['words'] as unknown[]).length, 6);
    assert.match(JSON.stringify((out['info'] as { parameters: unknown }).parameters), /pad \(id 3\)/);
    fails(['attribute', '--model', TEXT, '--prompt', 'The cat', '--target', ' mat the', '--method', 'saliency'], 'invalid_argument', /is 2 tokens/);
    const c = json(['attribute', '--model', TEXT, '--prompt', 'The cat', '--continuation', ' sat on the mat', '--method', 'integrated-gradients', '--baseline', 'unk', '--steps', '8']);
    assert.deepEqual((c['target'] as { texts: string[] }).texts, [' sat', ' on', ' the', ' mat']);
    assert.deepEqual((c['scores'] as number[][]).map((r) => r.length), [3, 4, 5, 6]);
  });

  it('human output: shaded tokens, a score table and the completeness line; --html writes a page', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmdbg-attr-html-'));
    const html = join(dir, 'a.html');
    const r = cli(['attribute', '--model', TEXT, '--prompt', 'The cat sat', '--method', 'integrated-gradients', '--baseline', 'pad', '--steps', '8', '--html', html]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /integrated-gradients: target/);
    assert.match(r.stdout, /pos\s+id\s+token\s+score/);
    assert.match(r.stdout, /completeness: sum of scores/);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /class="tok"/);
    assert.match(page, /␣cat/);
  });
});

describe('llmdbg gradients', () => {
  it('--json: the cross-entropy and no flags on a healthy model; errors are one line', () => {
    const r = ref('gpt2-tiny');
    const out = json(['gradients', '--model', GPT2, '--ids', r.ids.join(',')]);
    assertClose('loss', [(out['objective'] as { value: number }).value], [r.gradients.loss], { atol: 1e-5, rtol: 1e-4 });
    assert.deepEqual(out['flagged'], []);
    assert.ok((out['hooks'] as unknown[]).length > 0 && (out['params'] as unknown[]).length > 0);
    fails(['gradients', '--model', GPT2, '--ids', '5'], 'invalid_argument', /at least 2 tokens/);
  });

  it('human output lists the layers and the largest parameter gradients', () => {
    const r = cli(['gradients', '--model', GPT2, '--ids', ref('gpt2-tiny').ids.join(','), '--hooks', 'blocks.*.hook_resid_pre,blocks.*.hook_attn_out,blocks.*.hook_mlp_out']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /objective: mean cross-entropy of 7 next-token predictions/);
    assert.match(r.stdout, /layer\s+\|grad\| resid_pre/);
    assert.match(r.stdout, /parameter\s+shape\s+\|grad\|/);
  });
});
