// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * The attribution HTML view: one shaded span per token with its value on hover, escaped model
 * text, the continuation heatmap with one cell per (continuation token, source token) and grey
 * cells where a row cannot see the source, and a complete page around the fragment.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { attributionFragment, attributionPage } from '../../src/report/attribution-html.js';
import type { ContinuationAttribution, SingleAttribution } from '../../src/methods/attribution/types.js';

const info = { method: 'integrated-gradients' as const, parameters: { steps: 8, alphas: [0.5], weights: [1] }, model: { dir: 'm<1>', arch: 'gpt2', fingerprint: 'f' }, durationMs: 3, forwardRows: 1, backwardRows: 1, batchRows: 1, memoryMB: 1, sharedForward: false };
const tokens = [{ id: 1, text: '<script>' }, { id: 2, text: ' a&b' }, { id: 3, text: '"q"' }];

it('single result: shaded escaped tokens with hover values, words, completeness and warnings', () => {
  const r: SingleAttribution = {
    kind: 'single', method: 'integrated-gradients', tokens, scores: [0.5, -1, 0.25],
    words: [{ text: '<script>', start: 0, end: 1, score: 0.5 }, { text: ' a&b"q"', start: 1, end: 3, score: -0.75 }],
    target: { position: 2, id: 7, text: '<t>', source: 'top', logprob: -1, prob: Math.exp(-1), foil: null, value: -1 },
    delta: 0.01, completeness: { sum: -0.25, fInput: -1, fBaseline: -0.74, delta: 0.01, relative: 0.04 },
    warnings: ['gap <big>'], info,
  };
  const html = attributionFragment(r);
  assert.doesNotMatch(html, /<script>|<t>|<big>|m<1>/, 'model-derived text is escaped');
  assert.equal((html.match(/class="tok"/g) ?? []).length, 3 + 2, 'one span per token and per word');
  assert.match(html, /title="position 1, id 2: -1\.0000"/);
  assert.match(html, /&lt;script&gt;/);
  assert.match(html, /␣a&amp;b/);
  assert.match(html, /completeness: sum -0\.2500/);
  assert.match(html, /warning: gap &lt;big&gt;/);
  assert.doesNotMatch(html, /alphas/, 'long parameter arrays are left out of the header');
  // strongest negative score is full red, positive half-strength blue
  assert.match(html, /background:rgb\(214,40,44\)/);
  const page = attributionPage(r);
  assert.match(page, /^<!doctype html>/);
  assert.ok(page.includes(html.slice(0, 40)) || page.includes('<section class="attr">'));
});

it('continuation result: a heatmap with grey cells for sources a row cannot see', () => {
  const r: ContinuationAttribution = {
    kind: 'continuation', method: 'saliency', tokens, scores: [[1, 2], [0.5, 0.5, 4]],
    words: [[], []], target: { ids: [3, 9], texts: ['"q"', '<end>'], positions: [1, 2], logprobs: [-1, -2] },
    delta: null, completeness: null, warnings: [], info: { ...info, method: 'saliency', parameters: { norm: 'l2' } },
  };
  const html = attributionFragment(r);
  assert.equal((html.match(/<td class="na">/g) ?? []).length, 1, 'row 0 cannot see source 2');
  assert.equal((html.match(/<td style=/g) ?? []).length, 5);
  assert.equal((html.match(/<th class="tgt">/g) ?? []).length, 2);
  assert.match(html, /&lt;end&gt;/);
  assert.match(html, /background:rgb\(33,102,172\)/, 'the largest score is the full colour');
});
