// test-backends: once
/**
 * `llmdbg harden` as a user runs it: bad data lines are named with their line numbers (or skipped
 * and listed with --skip-bad-lines), an existing --out is refused unless --overwrite, bad options
 * fail with one line, and --json prints exactly one object while the model folder is written.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, cliFails, cliJson } from '../helpers/cli.js';
import { buildHardenData } from '../../src/demo/harden-data.js';
import { hardenCommand } from '../../src/cli/commands/harden.js';
import { LlmdbgError } from '../../src/errors.js';

const root = mkdtempSync(join(tmpdir(), 'llmdbg-harden-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const items = buildHardenData({ seed: 3, nIoi: 4, nAgreement: 6 }).filter((_, i) => i % 40 === 0 || i >= 348);
const good = items.map((x) => JSON.stringify({ prompt: x.prompt, expected: x.expected, behaviour: x.behaviour }));
const dataFile = join(root, 'data.jsonl');
writeFileSync(dataFile, good.join('\n') + '\n');
const badFile = join(root, 'bad.jsonl');
writeFileSync(badFile, [good[0], '{"prompt": "no answer"}', good[1], '{"text": "plain text"}', ...good.slice(2)].join('\n') + '\n');

const tiny = ['--rounds', '1', '--steps', '2', '--batch-size', '2', '--n-attack', '1', '--n-eval-attack', '2', '--attack-steps', '1', '--attack-batch', '4', '--top-k', '4', '--candidates', '2', '--adv-len', '2'];

describe('llmdbg harden', () => {
  it('names bad lines by number', () => {
    cliFails(['harden', '--data', badFile, '--out', join(root, 'o1')], 'invalid_dataset', /2 bad line\(s\): line 2: .*; line 4: .*no answer/);
    assert.ok(!existsSync(join(root, 'o1')), 'nothing written');
  });

  it('refuses an existing --out, unknown attacks and methods', () => {
    const busy = join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'config.json'), '{}');
    cliFails(['harden', '--data', dataFile, '--out', busy], 'invalid_argument', /--out .*busy already exists and is not empty.*--overwrite/);
  });

  it('refuses bad options before loading anything (in process)', async () => {
    const fails = (argv: string[], code: string, re: RegExp) => assert.rejects(hardenCommand.run(argv), (e: unknown) => e instanceof LlmdbgError && e.code === code && re.test(e.oneLine()));
    const o2 = join(root, 'o2');
    await fails(['--data', dataFile, '--out', o2, '--attacks', 'input-reduction'], 'invalid_argument', /cannot be trained against/);
    await fails(['--data', dataFile, '--out', o2, '--attacks', 'gcgg'], 'unknown_method', /closest: gcg/);
    await fails(['--data', dataFile, '--out', o2, '--method', 'pgd'], 'invalid_argument', /--method pgd must be attack or embedding/);
    await fails(['--data', dataFile, '--out', o2, '--adv-where', 'middle'], 'invalid_argument', /prefix or suffix/);
    await fails(['--out', o2], 'invalid_argument', /--data FILE is required/);
    await fails(['--data', join(root, 'missing.jsonl'), '--out', o2], 'file_not_found', /missing\.jsonl/);
    assert.ok(!existsSync(o2));
  });

  it('--json: one object with before/after scores; bad lines skipped and listed; --overwrite replaces', () => {
    const out = join(root, 'o3');
    const r = cliJson(['harden', '--data', badFile, '--out', out, '--skip-bad-lines', '--eval-fraction', '0.3', ...tiny]);
    for (const k of ['before', 'after', 'change', 'rounds', 'recipe', 'info']) assert.ok(k in r, k);
    const info = r['info'] as { data: { badLines: { line: number }[]; eval: { heldOutOf: string; items: number } }; backend: string };
    assert.deepEqual(info.data.badLines.map((b) => b.line), [2, 4]);
    assert.equal(info.data.eval.heldOutOf, badFile);
    const before = r['before'] as { clean: { n: number } };
    assert.equal(before.clean.n, info.data.eval.items);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'harden.json']) assert.ok(existsSync(join(out, f)), f);
    cliFails(['harden', '--data', dataFile, '--out', out, ...tiny], 'invalid_argument', /already exists/);
    const again = cli(['harden', '--data', dataFile, '--out', out, '--overwrite', '--method', 'embedding', ...tiny]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /clean accuracy/);
    assert.match(again.stderr, /train/);
  });
});
