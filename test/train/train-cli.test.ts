/**
 * `llmdbg train` end to end on a tiny Llama with the demo tokenizer: bad lines are refused with
 * their line numbers (or skipped with --skip-bad-lines), --json prints one object, the output
 * folder loads with its tokenizer, prompt tokens are masked, and Ctrl-C (SIGINT) then --resume
 * ends with the same weights as an uninterrupted run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestBackend } from '../helpers/backend.js';
import { cli } from '../helpers/cli.js';
import { ROOT } from '../helpers/fixtures.js';
import { initParams, newModelConfig } from '../../src/model/init.js';
import { saveModel } from '../../src/model/save.js';
import { loadModel } from '../../src/model/model.js';
import { disposeParams } from '../../src/model/params.js';
import { buildTokenizerConfig, buildTokenizerJson, buildVocabulary, BOS_ID, EOS_ID, PAD_ID } from '../../src/demo/index.js';

const root = mkdtempSync(join(tmpdir(), 'llmdbg-train-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
const base = join(root, 'base');
const data = join(root, 'data.jsonl');

before(async () => {
  await useTestBackend();
  const vocab = buildVocabulary();
  const config = newModelConfig({ arch: 'llama', dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: vocab.tokens.length, nCtx: 64, bosTokenId: BOS_ID, eosTokenId: EOS_ID, padTokenId: PAD_ID });
  const params = initParams(config, 1);
  await saveModel({ config, params, files: { 'tokenizer.json': buildTokenizerJson(vocab), 'tokenizer_config.json': buildTokenizerConfig() } }, base);
  disposeParams(params);
  const words = vocab.tokens.filter((t) => /^Ġ[a-z]+$/.test(t)).slice(0, 30).map((t) => t.slice(1));
  const lines: string[] = [];
  for (let i = 0; i < 24; i++) lines.push(JSON.stringify({ text: `${words[i % 30]} ${words[(i * 7) % 30]} ${words[(i * 11) % 30]} ${words[(i * 13) % 30]}` }));
  for (let i = 0; i < 8; i++) lines.push(JSON.stringify({ prompt: `${words[i]} ${words[i + 1]}`, completion: ` ${words[i + 2]} ${words[i + 3]}` }));
  writeFileSync(data, lines.join('\n') + '\n');
});

/** stderr without the banner tfjs prints on its cpu backend. */
const errLines = (s: string) => s.split('\n').filter((l) => l.trim() !== '' && !/^=+$|^Hi, looks like you are running TensorFlow\.js/.test(l));

const args = (out: string, extra: string[] = []) => ['train', '--model', base, '--data', data, '--out', out, '--steps', '12', '--batch-size', '4', '--seq-len', '16', '--lr', '3e-3', '--log-every', '3', ...extra];

describe('llmdbg train', () => {
  it('refuses bad lines with their line numbers; --skip-bad-lines trains without them', () => {
    const bad = join(root, 'bad.jsonl');
    writeFileSync(bad, readFileSync(data, 'utf8') + '{"text": 3}\nnot json\n');
    const r = cli(['train', '--model', base, '--data', bad, '--out', join(root, 'never')]);
    assert.equal(r.status, 1);
    assert.equal(errLines(r.stderr).length, 1, r.stderr);
    assert.match(errLines(r.stderr)[0]!, /^error\[invalid_dataset\]: .*bad\.jsonl: 2 bad line\(s\): line 33: "text" must be a string; line 34: not valid JSON/);
    assert.ok(!existsSync(join(root, 'never')));
    const ok = cli([...args(join(root, 'skipped'), ['--skip-bad-lines', '--steps', '2']).map((a) => (a === data ? bad : a)), '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const j = JSON.parse(ok.stdout);
    assert.deepEqual(j.data.badLines.map((b: { line: number }) => b.line), [33, 34]);
  });

  it('--json: one object, a loadable model folder with its tokenizer, loss falls, checkpoints removed', () => {
    const out = join(root, 'out1');
    const r = cli([...args(out), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const j = JSON.parse(lines[0]!);
    assert.equal(j.stopReason, 'done');
    assert.equal(j.step, 12);
    assert.equal(j.data.mode, 'pad', 'prompt/completion data defaults to one example per row');
    assert.equal(j.data.examples, 32);
    assert.ok(j.history.at(-1).loss < j.history[0].loss, 'loss falls');
    assert.equal(j.info.method, 'train-adamw');
    assert.match(r.stderr, /step {1,2}3\/12 {2}loss \d+\.\d{4} {2}lr .* tok\/s {2}ETA /);
    assert.equal(errLines(r.stderr).length, 4, 'one progress line per interval');
    assert.ok(existsSync(join(out, 'tokenizer.json')) && existsSync(join(out, 'config.json')));
    assert.ok(!existsSync(join(out, 'checkpoints')));
    const m = loadModel(out);
    assert.ok(m.tokenizer);
    assert.equal(m.config.nLayers, 2);
    m.dispose();
  });

  it('Ctrl-C writes a checkpoint (exit 130); --resume ends with the uninterrupted weights', async () => {
    const out = join(root, 'out2');
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'bin.ts'), ...args(out, ['--checkpoint-every', '0', '--log-every', '1'])], {
      cwd: ROOT, env: { ...process.env, LLMDBG_BACKEND: process.env['LLMDBG_TEST_BACKEND'] ?? 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const code = await new Promise<number | null>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/step +2\/12/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      child.on('close', (c) => resolve(c));
    });
    assert.equal(code, 130, stderr);
    assert.match(stdout, /interrupted at step \d+\/12; checkpoint .*step-0000000\d; run the same command with --resume/);
    assert.ok(!existsSync(join(out, 'config.json')), 'no final model yet');
    const resumed = cli([...args(out, ['--checkpoint-every', '0', '--log-every', '1']), '--resume', '--json']);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(JSON.parse(resumed.stdout).resumedFrom, /step-0000000\d$/);
    // out1 ran the same recipe uninterrupted (checkpoint and log intervals do not change the weights)
    assert.deepEqual(readFileSync(join(out, 'model.safetensors')), readFileSync(join(root, 'out1', 'model.safetensors')));
  });
});
