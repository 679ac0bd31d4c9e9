/**
 * `llmdbg demo` on the bundled model (what `npm start` runs): one self-contained report with the
 * generations, attributions, the attention view and the held-out scores; and `llmdbg eval` on
 * the bundled suite reports per-behaviour accuracy consistent with its failures list.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { ROOT } from '../helpers/fixtures.js';

const DEMO = join(ROOT, 'models', 'demo');

it('demo writes one self-contained HTML report with every section', { skip: !existsSync(join(DEMO, 'config.json')) && 'no bundled demo model' }, () => {
  const out = join(mkdtempSync(join(tmpdir(), 'llmdbg-demo-')), 'demo.html');
  const r = cli(['demo', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { report: string; prompts: { behaviour: string; tokens: { prob: number }[] }[]; scores: { byBehaviour: Record<string, { n: number }> } };
  assert.equal(res.report, out);
  assert.deepEqual(res.prompts.map((p) => p.behaviour).sort(), ['agreement', 'fact', 'induction', 'ioi']);
  for (const p of res.prompts) for (const t of p.tokens) assert.ok(t.prob > 0 && t.prob <= 1);
  const html = readFileSync(out, 'utf8');
  for (const h of ['Generations', 'Input attribution', 'Attention', 'Held-out scores']) assert.ok(html.includes(`<h2>${h}</h2>`), h);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\//, 'no external resources');
});

interface EvalJson {
  n: number;
  correct: number;
  accuracy: number;
  failures: unknown[];
  byBehaviour: Record<string, { n: number; accuracy: number }>;
  induction: { n: number; ratio: number };
}
let evalRun: EvalJson | null = null;
/** `llmdbg eval --json` on the bundled suite, run once for the tests below. */
function evalBundled(): EvalJson {
  if (evalRun) return evalRun;
  const r = cli(['eval', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return (evalRun = JSON.parse(r.stdout) as EvalJson);
}

it('eval on the bundled suite: accuracy = correct / items and failures are listed', { skip: !existsSync(join(DEMO, 'eval-suite.jsonl')) && 'no bundled demo model' }, () => {
  const res = evalBundled();
  assert.ok(res.n > 0);
  assert.equal(res.accuracy, res.correct / res.n);
  assert.equal(res.failures.length, res.n - res.correct);
  assert.ok(res.induction.ratio > 0);
});

// The README states these scores of the bundled weights and the demo-model issue sets the targets:
// replacing models/demo by a worse model fails here, not silently in the README.
it('the bundled model meets its held-out targets: fact >= 95%, IOI >= 90%, induction <= 30%', { skip: !existsSync(join(DEMO, 'eval-suite.jsonl')) && 'no bundled demo model' }, () => {
  const res = evalBundled();
  assert.ok(res.byBehaviour['fact']!.n >= 100 && res.byBehaviour['ioi']!.n >= 100 && res.induction.n >= 50, 'the suite is the full held-out suite');
  assert.ok(res.byBehaviour['fact']!.accuracy >= 0.95, `fact recall ${res.byBehaviour['fact']!.accuracy}`);
  assert.ok(res.byBehaviour['ioi']!.accuracy >= 0.9, `IOI ${res.byBehaviour['ioi']!.accuracy}`);
  assert.ok(res.induction.ratio <= 0.3, `induction second/first loss ${res.induction.ratio}`);
});
