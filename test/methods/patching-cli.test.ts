/**
 * The five attention-debugging commands end to end on gpt2-tiny (ids, no tokenizer): each
 * `--json` run prints exactly one JSON object whose numbers agree with the library and the
 * PyTorch fixtures; bad input gives one `error[code]` line and a non-zero exit status.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureDir, golden, ROOT } from '../helpers/fixtures.js';

const MODEL = fixtureDir('gpt2-tiny');
const g = golden('gpt2-tiny').patching!;
const clean = g.clean_ids[0]!.join(',');
const corrupt = g.corrupt_ids[0]!.join(',');
const tmp = mkdtempSync(join(tmpdir(), 'llmdbg-attn-cli-'));

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const script = `const { main } = await import(${JSON.stringify(join(ROOT, 'src', 'cli', 'main.ts'))}); const c = await main(${JSON.stringify(args)}); process.stdout.write('', () => process.exit(c));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LLMDBG_BACKEND: process.env['LLMDBG_TEST_BACKEND'] ?? 'wasm' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function json(args: string[]): any {
  const r = cli([...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one JSON line on stdout');
  return JSON.parse(lines[0]!);
}

describe('attention-debugging CLI', () => {
  it('patch --json: residual sweep recovers 100% at the changed position in layer 0; --html writes the heatmap', () => {
    const html = join(tmp, 'patch.html');
    const r = json(['patch', '--model', MODEL, '--ids', clean, '--corrupt-ids', corrupt, '--kind', 'resid_pre,head', '--html', html]);
    assert.equal(r.results.length, 2);
    const resid = r.results[0];
    assert.equal(resid.kind, 'resid_pre');
    assert.deepEqual(resid.rows, ['L0', 'L1']);
    assert.ok(Math.abs(resid.recovered[0][1] - 1) < 1e-4);
    assert.ok(Math.abs(resid.recovered[0][0]) < 1e-4);
    assert.equal(r.results[1].cols.length, 4);
    assert.ok(existsSync(html) && readFileSync(html, 'utf8').includes('td class="cell"'));
  });

  it('trace-causal --json: restoring the only noised position at layer 0 recovers all', () => {
    const r = json(['trace-causal', '--model', MODEL, '--ids', clean, '--noise-positions', '2', '--samples', '2', '--seed', '5']);
    assert.equal(r.info.samples, 2);
    assert.ok(r.clean > r.noisy);
    assert.ok(Math.abs(r.recovered[0][2] - 1) < 1e-4);
  });

  it('intervene --json with --ablate and with a spec file', () => {
    const a = json(['intervene', '--model', MODEL, '--ids', clean, '--ablate', 'L0H1', '--max-new-tokens', '3']);
    // the edited top-1 logit is the PyTorch reference's ablated logit of that token
    const id = a.edited.top[0].id;
    assert.ok(Math.abs(a.edited.top[0].logit - g.ablate_L0H1_last_logits.data[id]!) < 2e-4);
    assert.ok(a.kl > 0);
    assert.equal(a.edited.continuation.length, 3);
    const spec = join(tmp, 'spec.json');
    writeFileSync(spec, JSON.stringify({ name: 'noop', edits: [{ hook: 'resid_pre', op: 'scale', value: 1 }] }));
    const b = json(['intervene', '--model', MODEL, '--ids', clean, '--spec', spec]);
    assert.equal(b.kl, 0);
    assert.deepEqual(b.edited.continuation, b.clean.continuation);
  });

  it('attention --json ranks every head; lens --json: last stage = output, DLA sums to the logit', () => {
    const html = join(tmp, 'attn.html');
    const a = json(['attention', '--model', MODEL, '--ids', clean, '--rep-len', '5', '--html', html]);
    assert.equal(a.rankings.prevToken.length, 8);
    assert.ok(readFileSync(html, 'utf8').includes('class="head"'));
    const l = json(['lens', '--model', MODEL, '--ids', clean]);
    assert.equal(l.lens.target.rank[2][7], 1);
    assert.ok(Math.abs(l.dla.sum - l.dla.logit) < 1e-3);
  });

  it('bad input: one error line with a stable code', () => {
    const spec = join(tmp, 'bad.json');
    writeFileSync(spec, JSON.stringify({ edits: [{ hook: 'z', heads: [9], op: 'zero' }] }));
    const r = cli(['intervene', '--model', MODEL, '--ids', clean, '--spec', spec]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /^error\[invalid_spec\]: spec\.edits\[0\]\.heads\[0\] = 9 is outside \[0, 4\)/);
    const p = cli(['patch', '--model', MODEL, '--ids', clean, '--corrupt-ids', '1,2']);
    assert.match(p.stderr.trim(), /^error\[prompt_length_mismatch\]/);
  });
});
