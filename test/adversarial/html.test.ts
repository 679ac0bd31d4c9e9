/**
 * The attack HTML page as a pure function: token alignment (flips position by position, insertions
 * and removals by longest common subsequence), escaped model text, highlighted changed tokens, the
 * probabilities before/after, one table row and one chart point per step, the attribution section,
 * and well-formed markup (every opened element closed, in order); and the page `llmdbg attack --html`
 * writes on the demo model, with the attribution of the adversarial input.
 */
// test-backends: once
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliJson } from '../helpers/cli.js';
import { ROOT } from '../helpers/fixtures.js';
import { alignTokens, attackPage, lossChartSvg } from '../../src/report/attack-html.js';
import type { AttackResult } from '../../src/methods/adversarial/types.js';
import type { SingleAttribution } from '../../src/methods/attribution/types.js';

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);

/** Throws unless every non-void element is closed in order (style/script bodies skipped). */
function assertWellFormed(html: string): void {
  const body = html.replace(/<(style|script)>[\s\S]*?<\/\1>/g, '').replace(/<!doctype html>/i, '');
  const stack: string[] = [];
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*?)(\/?)>/g)) {
    const [, close, name, , self] = m;
    const tag = name!.toLowerCase();
    if (self || VOID.has(tag)) continue;
    if (close) {
      const top = stack.pop();
      assert.equal(top, tag, `</${tag}> closes <${top}> at offset ${m.index}`);
    } else stack.push(tag);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.doesNotMatch(body.replace(/<[^>]*>/g, ''), /[<>]/, 'no stray angle brackets in text');
}

const PIECES: Record<number, string> = { 1: '<s>', 5: ' The', 6: ' capital', 7: ' is', 8: '<script>alert(1)</script>', 9: ' "Paris"', 10: ' Rome&', 11: ' x' };
const pieces = (ids: readonly number[]) => ids.map((i) => PIECES[i] ?? `#${i}`);

function result(): AttackResult {
  return {
    method: 'gcg',
    goal: { kind: 'targeted', targetIds: [10] },
    original: { ids: [1, 5, 6, 7], text: 'The capital is', predictionIds: [9], prediction: ' "Paris"', prob: 0.01 },
    adversarial: { ids: [1, 5, 6, 7, 8, 11], text: 'The capital is<script>alert(1)</script> x', predictionIds: [10], prediction: ' Rome&', prob: 0.75 },
    success: true, stopReason: 'success', queries: 130, gradients: 3, ms: 1234,
    steps: [
      { step: 1, change: { kind: 'swap', position: 4, fromId: 11, toId: 8 }, ids: [1, 5, 6, 7, 8, 11], loss: 2.5, prob: 0.08, queries: 64, ms: 10 },
      { step: 2, change: { kind: 'swap', position: 5, fromId: 11, toId: 11 }, ids: [1, 5, 6, 7, 8, 11], loss: 0.29, prob: 0.75, queries: 128, ms: 11 },
    ],
    info: { method: 'gcg', model: { dir: '/m/<evil>' }, start: { loss: 3.2 }, loss: { original: 4.6, adversarial: 0.29 } },
  };
}

it('alignTokens: flips position by position, insertions and removals by LCS', () => {
  assert.deepEqual(alignTokens([1, 2, 3], [1, 9, 3]), { a: ['same', 'changed', 'same'], b: ['same', 'changed', 'same'] });
  assert.deepEqual(alignTokens([1, 2, 3], [1, 2, 3, 7, 8]).b, ['same', 'same', 'same', 'changed', 'changed']);
  assert.deepEqual(alignTokens([1, 2, 3], [7, 1, 2, 3]).b, ['changed', 'same', 'same', 'same'], 'a prefix');
  assert.deepEqual(alignTokens([1, 2, 3, 4, 5], [1, 3, 5]).a, ['same', 'changed', 'same', 'changed', 'same'], 'removals');
  assert.deepEqual(alignTokens([4, 4, 4], [4, 4]).a.filter((m) => m === 'changed').length, 1, 'repeated tokens: exactly one removed');
});

it('the page: escaped text, highlighted insertions, probabilities, one row and point per step, well-formed', () => {
  const html = attackPage(result(), { pieces, attributionNote: 'skipped <for> a test' });
  assert.match(html, /^<!doctype html>/);
  assertWellFormed(html);
  assert.doesNotMatch(html, /<script>alert|<evil>|<for>|<s>/, 'model-derived text is escaped');
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.equal((html.match(/class="tok ins"/g) ?? []).length, 2, 'the two suffix tokens are highlighted as new');
  assert.equal((html.match(/class="tok del"/g) ?? []).length, 0, 'nothing of the original was removed');
  assert.equal((html.match(/class="tok same"/g) ?? []).length, 8, 'four unchanged tokens on each side');
  assert.match(html, /probability 0\.0100 &rarr; 0\.7500/);
  assert.match(html, /class="ok">success/);
  assert.match(html, /Rome&amp;/);
  assert.equal((html.match(/<tr><td class="num">/g) ?? []).length, 2, 'one table row per step');
  assert.equal((html.match(/<circle /g) ?? []).length, 3, 'the start (step 0) and one point per step');
  assert.match(html, /step 0: loss 3\.2000/, 'step 0 is the start (prompt with the initial suffix), from info.start');
  assert.match(html, /skipped &lt;for&gt; a test/);
});

it('input reduction: removed tokens struck in the original; step 0 from info.loss.original', () => {
  const r: AttackResult = {
    ...result(), method: 'input-reduction', goal: { kind: 'untargeted', answerIds: [9] },
    adversarial: { ids: [1, 6, 7], text: 'capital is', predictionIds: [9], prediction: ' "Paris"', prob: 0.4 },
    success: true, steps: [{ step: 1, change: { kind: 'remove', position: 1, fromId: 5, toId: null }, ids: [1, 6, 7], loss: -0.9, prob: 0.4, queries: 3, ms: 2 }],
    info: { loss: { original: -0.5 } },
  };
  const html = attackPage(r, { pieces });
  assertWellFormed(html);
  assert.equal((html.match(/class="tok del"/g) ?? []).length, 1);
  assert.match(html, /title="position 1, id 5 \(removed or replaced\)">␣The</);
  assert.equal((html.match(/<circle /g) ?? []).length, 2);
  assert.match(html, /step 0: loss -0\.5000/);
  assert.match(html, /keep the prediction/);
  assert.doesNotMatch(attackPage({ ...r, info: {} }, { pieces }), /step 0/, 'no step 0 without the library\'s start loss');
});

it('the attribution of the adversarial input is embedded when given', () => {
  const attribution: SingleAttribution = {
    kind: 'single', method: 'input-x-gradient', tokens: [1, 5, 6, 7, 8, 11].map((id) => ({ id, text: pieces([id])[0]! })),
    scores: [0, 0.1, -0.2, 0.3, 1, -0.5], words: [], delta: null, completeness: null, warnings: [],
    target: { position: 5, id: 10, text: ' Rome&', source: 'given', logprob: -0.29, prob: 0.75, foil: null, value: -0.29 },
    info: { method: 'input-x-gradient', parameters: {}, model: { dir: 'm', arch: 'llama', fingerprint: 'f' }, durationMs: 1, forwardRows: 1, backwardRows: 1, batchRows: 1, memoryMB: 1, sharedForward: false },
  };
  const html = attackPage(result(), { pieces, attribution });
  assertWellFormed(html);
  assert.match(html, /Attribution of the adversarial input toward the goal token/);
  assert.match(html, /title="position 4, id 8: 1\.0000"/, 'the attributed tokens are the adversarial ones');
});

it('loss chart: points scaled between the extremes; empty and constant logs do not break', () => {
  const svg = lossChartSvg(result().steps, 3);
  const pts = /points="([^"]+)"/.exec(svg)![1]!.split(' ').map((p) => p.split(',').map(Number));
  assert.equal(pts.length, 3);
  assert.equal(pts[0]![1], 10, 'the largest loss is at the top');
  assert.equal(pts[2]![1], 142, 'the smallest at the bottom');
  assert.ok(pts[0]![0]! < pts[1]![0]! && pts[1]![0]! < pts[2]![0]!);
  assert.match(lossChartSvg([]), /no finite loss/);
  assert.doesNotMatch(lossChartSvg(result().steps.map((s) => ({ ...s, loss: 1 }))), /NaN/);
});

it('llmdbg attack --html: the page on disk, with the attribution of the adversarial input toward the target', () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmdbg-attack-html-'));
  try {
    const file = join(dir, 'attack.html');
    const out = cliJson(['attack', '--model', join(ROOT, 'models', 'demo'), '--method', 'gcg', '--prompt', 'The capital of France is', '--target', ' Rome',
      '--adv-suffix', '2', '--steps', '2', '--batch', '8', '--top-k', '4', '--html', file, '--html-attribution', 'input-x-gradient']) as unknown as AttackResult;
    assert.equal((out.info as { html: string }).html, file);
    assert.deepEqual(readdirSync(dir), ['attack.html'], 'no temp file left behind');
    const html = readFileSync(file, 'utf8');
    assertWellFormed(html);
    assert.match(html, /<title>Attack: gcg<\/title>/);
    assert.match(html, /<h3>Original<\/h3>[\s\S]*<h3>Adversarial<\/h3>/);
    assert.equal((html.match(/class="tok ins"/g) ?? []).length, 2, 'the two suffix tokens are highlighted');
    assert.match(html, /make greedy decoding produce &quot; Rome&quot;/);
    assert.equal((html.match(/<tr><td class="num">/g) ?? []).length, out.steps.length);
    assert.match(html, /<svg class="chart"/);
    assert.match(html, /Attribution of the adversarial input toward the goal token/);
    const target = (out.goal as { targetIds: number[] }).targetIds[0];
    assert.ok(html.includes(`input-x-gradient: target &quot; Rome&quot; (id ${target},`), 'attributed toward the target');
    const attributed = html.slice(html.indexOf('<section class="attr">'));
    assert.equal((attributed.match(/title="position \d+, id \d+: /g) ?? []).length, out.adversarial.ids.length, 'one score per adversarial token');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
