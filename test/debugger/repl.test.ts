/**
 * The debugger's command language through its interpreter (as the REPL calls it) and the CLI
 * commands end to end in child processes: `debug --commands FILE` (text and --json), `health`,
 * `dump` and `dump diff`. The interactive terminal is tested in repl-tmux.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend, testBackendChoice } from '../helpers/backend.js';
import { ROOT, fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';
import { DebugRepl } from '../../src/debugger/repl.js';

const tmp = mkdtempSync(join(tmpdir(), 'llmdbg-repl-'));
before(async () => {
  await useTestBackend();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'debugger', 'run-cli.ts'), ...args, '--backend', testBackendChoice()], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, LLMDBG_HISTORY: join(tmp, 'hist') }, ...(input !== undefined ? { input } : {}),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('debugger REPL interpreter', () => {
  const g = golden('gpt2-tiny');
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('gpt2-tiny'));
  });

  it('break, run, print, set, continue: the edit changes the generated ids like a hooked generate()', async () => {
    const n0 = tf.memory().numTensors;
    const repl = new DebugRepl(model, g.greedy.prompt, { maxNewTokens: 5, stopAtEos: false });
    const ok = async (line: string) => {
      const out = await repl.exec(line);
      assert.ok(out.ok, `${line}: ${out.text}`);
      return out;
    };
    assert.match((await ok('break blocks.0.hook_mlp_out step 0')).text, /^breakpoint 1: blocks.0.hook_mlp_out step 0 \(1 hook point\)$/);
    assert.match((await ok('run')).text, /^paused at blocks.0.hook_mlp_out \(layer 0\), step 0, pos 0..2, shape \[1, 3, 32\]\n {2}breakpoint 1$/);
    const printed = await ok('print [0, 2, :4]');
    assert.match(printed.text, /shape \[4\]/);
    // the prompt is a prefix of the golden ids, so row 2 matches the PyTorch activation
    const golden4 = g.hooks['blocks.0.hook_mlp_out']!.data.slice(64, 68);
    (printed.data as { values: number[] }).values.forEach((x, i) => assert.ok(Math.abs(x - golden4[i]!) < 1e-4));
    assert.match((await ok('set [0, 2, :] *= 0')).text, /^scaled \[0, 2, :\] of blocks.0.hook_mlp_out/);
    assert.equal(((await ok('print [0, 2, :]')).data as { values: number[] }).values.every((x) => x === 0), true);
    const end = await ok('continue');
    const ids = (end.data as { result: { ids: number[] } }).result.ids;
    const hooked = await generate(model, g.greedy.prompt, {
      maxNewTokens: 5, stopAtEos: false,
      hooks: { 'blocks.0.hook_mlp_out': (x, ctx) => (ctx.posOffset === 0 ? tf.tidy(() => tf.concat([tf.slice(x, [0, 0, 0], [1, 2, -1]), tf.zerosLike(tf.slice(x, [0, 2, 0], [1, 1, -1]))], 1)) : undefined) },
    });
    assert.deepEqual(ids, hooked.ids);
    // breakpoints survive a restart, with fresh hit counts
    assert.match((await ok('run')).text, /^paused at blocks.0.hook_mlp_out/);
    assert.match((await ok('info breakpoints')).text, /hit 1 time\)$/);
    await ok('quit');
    assert.equal(tf.memory().numTensors, n0);
  });

  it('errors come back as one line and the paused run stays usable', async () => {
    const repl = new DebugRepl(model, g.ids[0]!);
    await repl.exec('break blocks.1.hook_resid_pre');
    const first = await repl.exec('run');
    for (const bad of ['set [0, 0, :] = 1, 2', 'print [0, 9]', 'break blocks.1.hook_foo', 'break hook_embed layer 0', 'break if entropy < -1', 'next sideways', 'frobnicate', 'delete 7', 'top 0', 'info nothing', 'watch blocks.1.hook_resid_pre sometimes']) {
      const out = await repl.exec(bad);
      assert.equal(out.ok, false, bad);
      assert.match(out.text, /^error\[[a-z_]+\]: [^\n]+$/, bad);
    }
    assert.deepEqual((await repl.exec('where')).data, { pause: (first.data as { pause: unknown }).pause });
    assert.equal((await repl.exec('info edits')).text, 'no edits');
    const end = await repl.exec('continue');
    assert.equal((end.data as { status: string }).status, 'finished');
    const again = await repl.exec('continue');
    assert.deepEqual([again.ok, again.error?.code], [false, 'not_paused'], 'a finished run is not restarted silently');
    repl.close();
  });

  it('watches record every step and render as a table and an HTML chart', async () => {
    const repl = new DebugRepl(model, g.greedy.prompt, { maxNewTokens: 4, stopAtEos: false });
    await repl.exec('watch blocks.1.hook_resid_post');
    await repl.exec('watch blocks.0.attn.hook_pattern all');
    await repl.exec('run');
    const table = await repl.exec('watch');
    const recs = (table.data as { records: { hook: string; step: number; positions: number[]; stats: { norm: number } }[] }).records;
    const resid = recs.filter((r) => r.hook === 'blocks.1.hook_resid_post');
    assert.deepEqual(resid.map((r) => [r.step, r.positions[0]]), [[0, 2], [1, 3], [2, 4], [3, 5]]);
    assert.deepEqual(recs.filter((r) => r.hook === 'blocks.0.attn.hook_pattern').map((r) => r.positions), [[0, 2], [3, 3], [4, 4], [5, 5]]);
    // step 0 measures the last prompt position: its norm equals the golden row (same prompt prefix)
    const row = g.hooks['blocks.1.hook_resid_post']!.data.slice(2 * 32, 3 * 32);
    assert.ok(Math.abs(resid[0]!.stats.norm - Math.hypot(...row)) < 1e-4);
    const html = join(tmp, 'watch.html');
    assert.ok((await repl.exec(`watch html ${html}`)).ok);
    const page = readFileSync(html, 'utf8');
    assert.equal((page.match(/<polyline/g) ?? []).length, 8, 'four charts per watched hook');
    assert.equal((page.match(/<tr>|<tr class/g) ?? []).length, 2 + 8, 'a header per table and one row per step');
  });

  it('completion offers commands, topics and hook names', () => {
    const repl = new DebugRepl(model, g.ids[0]!);
    assert.deepEqual(repl.complete('con'), [['continue'], 'con']);
    assert.deepEqual(repl.complete('info b'), [['breakpoints'], 'b']);
    assert.deepEqual(repl.complete('break blocks.1.attn.hook_pa')[0], ['blocks.1.attn.hook_pattern']);
    assert.deepEqual(repl.complete('next t'), [['token'], 't']);
  });
});

describe('CLI: debug --commands, health, dump', () => {
  const model = fixtureDir('gpt2-tiny');

  it('debug --commands FILE --json prints one JSON object with every command', () => {
    const script = join(tmp, 'cmds.txt');
    writeFileSync(script, '# a comment\nbreak blocks.*.attn.hook_pattern if entropy < 0.5\nrun\nwhere\nset [0, 0] = 7\ncontinue\nbreak blocks.9.hook_z\ndelete\ncontinue\n');
    const r = cli(['debug', '--model', model, '--ids', '0,51,14', '--max-new-tokens', '2', '--commands', script, '--json']);
    assert.equal(r.code, 1, 'one command failed');
    const out = JSON.parse(r.stdout) as { commands: { command: string; ok: boolean; error?: { code: string } }[]; failed: number; status: string; result: { generated: number[] } };
    assert.equal(r.stdout.trim().split('\n').length, 1);
    assert.deepEqual(out.commands.map((c) => c.ok), [true, true, true, true, true, false, true, true]);
    assert.equal(out.commands[5]!.error!.code, 'unknown_hook');
    assert.equal(out.status, 'finished');
    assert.equal(out.result.generated.length, 2);
  });

  it('debug reads piped commands and prints a transcript', () => {
    const r = cli(['debug', '--model', model, '--ids', '0,51,14', '--break', 'blocks.1.hook_resid_post'], 'run\nprint\nquit\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(llmdbg\) break blocks.1.hook_resid_post\nbreakpoint 1/);
    assert.match(r.stdout, /\(llmdbg\) run\npaused at blocks.1.hook_resid_post \(layer 1\), step 0, pos 0..2, shape \[1, 3, 32\]/);
    assert.match(r.stdout, /\(llmdbg\) print\nblocks.1.hook_resid_post: shape \[1, 3, 32\]\n {2}nan 0/);
  });

  it('health --json names the first non-finite hook of a corrupted model; dump diff names where two dumps part', () => {
    const h = cli(['health', '--model', model, '--ids', '0,51,14,50', '--json', '--mode', 'stats']);
    assert.equal(h.code, 0, h.stderr);
    const rep = JSON.parse(h.stdout) as { rows: { hook: string }[]; firstNonFinite: null; weights: { totals: { tensors: number } }; info: { backend: string } };
    assert.equal(rep.rows.length, 33);
    assert.equal(rep.firstNonFinite, null);
    assert.equal(rep.weights.totals.tensors, 28);
    const a = join(tmp, 'cli-a'), b = join(tmp, 'cli-b');
    assert.equal(cli(['dump', '--model', model, '--ids', '0,51,14,50', '--out', a]).code, 0);
    assert.equal(cli(['dump', '--model', model, '--ids', '0,58,14,50', '--out', b, '--json']).code, 0);
    const d = cli(['dump', 'diff', a, b, '--json']);
    const diff = JSON.parse(d.stdout) as { sameIds: boolean; firstDifference: { key: string } };
    assert.equal(diff.sameIds, false);
    assert.equal(diff.firstDifference.key, 'hook_embed@0', 'a different token differs from the first hook point');
    const text = cli(['dump', 'diff', a, b]);
    assert.match(text.stdout, /first difference: hook_embed \(step 0\): max \|a - b\|/);
    const bad = cli(['dump', 'diff', a, join(tmp, 'nope')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error\[dump_invalid\]: .*no manifest.json/);
  });
});
