/**
 * The CLI as a user runs it: every command prints exactly one JSON object with --json, errors are
 * one line on stderr with a stable code and a non-zero status, traces replay identically and
 * same-seed runs are byte-identical.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, cliJson as json, cliFails as fails } from '../helpers/cli.js';
import { fixtureDir, golden, STORIES_DIR } from '../helpers/fixtures.js';

const GPT2 = fixtureDir('gpt2-tiny');
const LLAMA = fixtureDir('llama-tiny');

describe('cli', () => {
  it('generate --json gives {ids, generated, text} with ids = prompt + generated, matching the reference', () => {
    const g = golden('llama-tiny');
    const out = json(['generate', '--model', LLAMA, '--ids', g.greedy.prompt.join(','), '--max-new-tokens', String(g.greedy.new_tokens), '--no-stop']);
    assert.deepEqual(out['ids'], g.greedy.ids);
    assert.deepEqual(out['generated'], g.greedy.ids.slice(g.greedy.prompt.length));
    assert.equal(out['text'], null); // no tokenizer in this folder
    assert.equal((out['info'] as { backend: string }).backend.length > 0, true);
  });

  it('logits --json gives T rows of V equal to the reference', () => {
    const g = golden('gpt2-tiny');
    const out = json(['logits', '--model', GPT2, '--ids', g.ids[0]!.join(',')]);
    const rows = out['logits'] as number[][];
    const [, T, V] = g.logits.shape as [number, number, number];
    assert.equal(rows.length, T);
    assert.equal(rows[0]!.length, V);
    const flat = rows.flat();
    flat.forEach((x, i) => assert.ok(Math.abs(x - g.logits.data[i]!) < 1e-4, `logit ${i}`));
  });

  it('cache --json gives {tensors: {NAME: {shape, data}}} with the batch in the shape, patterns expanded', () => {
    const g = golden('gpt2-tiny');
    const out = json(['cache', '--model', GPT2, '--ids', g.ids[0]!.join(','), '--hook', 'blocks.*.attn.hook_pattern', '--hook', 'hook_embed']);
    const t = out['tensors'] as Record<string, { shape: number[]; data: number[] }>;
    assert.deepEqual(Object.keys(t).sort(), ['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern', 'hook_embed']);
    assert.deepEqual(t['blocks.1.attn.hook_pattern']!.shape, g.hooks['blocks.1.attn.hook_pattern']!.shape);
    t['hook_embed']!.data.forEach((x, i) => assert.ok(Math.abs(x - g.hooks['hook_embed']!.data[i]!) < 1e-6));
  });

  it('inspect --json names the architecture, parameter count, dtype and every hook', () => {
    const out = json(['inspect', '--model', fixtureDir('llama-bf16')]);
    assert.equal(out['architecture'], 'llama');
    assert.equal(out['weightsDtype'], 'BF16');
    assert.ok((out['parameters'] as number) > 0);
    assert.ok((out['hooks'] as { name: string }[]).some((h) => h.name === 'blocks.0.attn.hook_rot_q'));
  });

  it('sampling with the same seed gives the same bytes; a trace replays identically and diffs against another seed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmdbg-cli-'));
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    const args = ['generate', '--model', STORIES_DIR, '--ids', '1', '--max-new-tokens', '24', '--temperature', '0.9', '--top-p', '0.95', '--no-stop'];
    const r1 = cli([...args, '--seed', '5', '--trace', a, '--json']);
    const r2 = cli([...args, '--seed', '5', '--json']);
    assert.equal(r1.status, 0, r1.stderr);
    const strip = (s: string) => JSON.stringify({ ...JSON.parse(s), info: undefined });
    assert.equal(strip(r1.stdout), strip(r2.stdout), 'same seed, same output');
    assert.ok(existsSync(a) && !existsSync(`${a}.partial`));
    const replay = json(['replay', a]);
    assert.equal(replay['identical'], true);
    assert.equal(replay['steps'], 24);
    cli([...args, '--seed', '6', '--trace', b]);
    const d = json(['diff', a, b]);
    assert.equal(d['samePrompt'], true);
    assert.equal(d['sameOptions'], false);
    assert.equal(typeof d['firstDivergence'], 'number');
    const same = json(['diff', a, a]);
    assert.equal(same['firstDivergence'], null);
    assert.ok((same['perStep'] as { kl: number }[]).every((s) => s.kl === 0));
    // tampering with one recorded probability is caught by replay
    const lines = readFileSync(a, 'utf8').trim().split('\n');
    const rec = JSON.parse(lines[3]!);
    rec.prob = rec.prob * (1 + 1e-9);
    lines[3] = JSON.stringify(rec);
    writeFileSync(a, lines.join('\n') + '\n');
    const bad = cli(['replay', a, '--json']);
    assert.equal(bad.status, 3);
    const rep = JSON.parse(bad.stdout);
    assert.equal(rep.identical, false);
    assert.deepEqual([rep.firstMismatch.step, rep.firstMismatch.field], [2, 'prob']);
  });

  it('bad input: one line, stable code, non-zero exit, no stack trace', () => {
    fails(['generate', '--model', GPT2, '--ids', '1,2,640'], 'token_out_of_range', /640 at position 2/);
    fails(['generate', '--model', GPT2, '--ids', '1,x'], 'invalid_argument', /"x"/);
    fails(['generate', '--model', GPT2, '--ids', Array(40).fill(1).join(',')], 'prompt_too_long', /32/);
    fails(['generate', '--model', GPT2, '--ids', '1', '--max-new-tokens', '40'], 'prompt_too_long');
    fails(['generate', '--model', GPT2, '--prompt', 'hello'], 'no_tokenizer', /--ids/);
    fails(['generate', '--model', GPT2], 'invalid_argument', /--prompt/);
    fails(['generate', '--model', '/nonexistent/model'], 'file_not_found');
    fails(['cache', '--model', GPT2, '--ids', '1', '--hook', 'blocks.0.hook_resid_pr'], 'unknown_hook', /blocks\.0\.hook_resid_pre/);
    fails(['generate', '--model', GPT2, '--ids', '1', '--temperature', '-2'], 'invalid_argument', /--temperature/);
    fails(['generate', '--model', GPT2, '--ids', '1', '--frobnicate'], 'invalid_argument', /frobnicate/);
    fails(['frobnicate'], 'invalid_argument', /unknown command/);
    fails(['replay', join(tmpdir(), 'no-such-trace.jsonl')], 'file_not_found');
    fails(['logits', '--model', GPT2, '--ids', '1', '--backend', 'gpu'], 'invalid_argument', /backend/);
  });

  it('malformed model folders are refused with the file named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmdbg-bad-'));
    writeFileSync(join(dir, 'config.json'), readFileSync(join(GPT2, 'config.json')));
    writeFileSync(join(dir, 'pytorch_model.bin'), Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]));
    fails(['inspect', '--model', dir], 'unsafe_format', /pytorch_model\.bin/);
    writeFileSync(join(dir, 'model.safetensors'), Buffer.from([1, 2, 3]));
    fails(['inspect', '--model', dir], 'safetensors_header_too_small', /model\.safetensors/);
    const cfg = JSON.parse(readFileSync(join(GPT2, 'config.json'), 'utf8'));
    const d2 = mkdtempSync(join(tmpdir(), 'llmdbg-bad-'));
    writeFileSync(join(d2, 'config.json'), JSON.stringify({ ...cfg, n_layer: 3 }));
    writeFileSync(join(d2, 'model.safetensors'), readFileSync(join(GPT2, 'model.safetensors')));
    fails(['inspect', '--model', d2], 'missing_weight', /h\.2\./);
    writeFileSync(join(d2, 'config.json'), JSON.stringify({ ...cfg, n_embd: 64 }));
    fails(['inspect', '--model', d2], 'weight_shape_mismatch');
    writeFileSync(join(d2, 'config.json'), JSON.stringify({ ...cfg, model_type: 'bert' }));
    fails(['inspect', '--model', d2], 'unsupported_config', /model_type = "bert"/);
  });
});
