/**
 * `llmdbg attack` as a user runs it, on the demo model (text) and the gpt2-tiny fixture (ids only):
 * one JSON object (the AttackResult plus run info), success checked against independent runs of
 * `llmdbg generate` (greedy) and `llmdbg logits` on the adversarial ids, the readable text output
 * with progress on stderr, budgets reaching the library, and one-line errors with stable codes.
 * Budgets are tiny: these check the wiring, not attack strength (see the library's tests).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { cli, cliFails as fails, cliJson as json } from '../helpers/cli.js';
import { useTestBackend } from '../helpers/backend.js';
import { ROOT, fixtureDir } from '../helpers/fixtures.js';
import { LlmdbgError } from '../../src/errors.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';
import { attackCommand } from '../../src/cli/commands/attack.js';
import type { AttackResult } from '../../src/methods/adversarial/types.js';

const DEMO = join(ROOT, 'models', 'demo');
const GPT2 = fixtureDir('gpt2-tiny');
const PROMPT = 'Everyone knows that the capital of France is';
const GPT2_IDS = [5, 17, 40, 2, 33, 9, 21];

const attackJson = (args: string[]) => json(['attack', ...args]) as unknown as AttackResult & { info: Record<string, unknown> };
const greedy = (model: string, ids: number[], n: number) =>
  json(['generate', '--model', model, '--ids', ids.join(','), '--max-new-tokens', String(n), '--no-stop'])['generated'] as number[];

/** The command run in this process (no spawn): for validation errors; it must leave no tensor behind. */
async function refused(argv: string[], code: string, re: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(attackCommand.run(argv), (e: unknown) => {
    assert.ok(e instanceof LlmdbgError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.oneLine(), re);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, `${argv.join(' ')}: tensors left behind`);
}

function softmaxAt(logits: ArrayLike<number>, id: number): number {
  const xs = Array.from(logits);
  const m = Math.max(...xs);
  const z = xs.reduce((s, x) => s + Math.exp(x - m), 0);
  return Math.exp(xs[id]! - m) / z;
}

function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

describe('llmdbg attack', () => {
  let gpt2: Model;
  let demo: Model;
  before(async () => {
    await useTestBackend();
    gpt2 = loadModel(GPT2);
    demo = loadModel(DEMO);
  });
  after(() => {
    gpt2.dispose();
    demo.dispose();
  });
  /** Last-position logits of ids, in this process (the model's plain forward). */
  const lastLogits = async (m: Model, ids: number[]) => {
    const l = await m.logits(ids);
    const V = l.shape[1]!;
    return l.data.subarray((ids.length - 1) * V, ids.length * V);
  };

  it('gcg, targeted, --json: the AttackResult shape, run info, and success agreeing with greedy generate', async () => {
    const r = cli(['attack', '--model', DEMO, '--method', 'gcg', '--prompt', PROMPT, '--target', ' Rome', '--adv-suffix', '3',
      '--steps', '3', '--batch', '16', '--top-k', '8', '--deny-ids', '4,5', '--seed', '7', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /step \d/, 'no progress lines with --json');
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0]!) as AttackResult & { info: Record<string, unknown> };
    for (const k of ['method', 'goal', 'original', 'adversarial', 'success', 'stopReason', 'queries', 'gradients', 'ms', 'steps', 'info']) assert.ok(k in out, `missing ${k}`);
    assert.equal(out.method, 'gcg');
    assert.equal(out.goal.kind, 'targeted');
    const target = (out.goal as { targetIds: number[] }).targetIds;
    assert.ok(target.length >= 1);
    assert.equal(typeof out.info['backend'], 'string');
    assert.equal((out.info['model'] as { dir: string }).dir, DEMO);
    const params = out.info['parameters'] as { topK: number; batch: number; seed: number; vocab: { deny: number[] }; adv: { length: number; where: string } };
    assert.deepEqual([params.topK, params.batch, params.seed, params.adv.length, params.adv.where], [8, 16, 7, 3, 'suffix']);
    assert.deepEqual(params.vocab.deny, [4, 5]);
    // The adversarial input is the prompt plus a 3-token suffix that avoids the denied ids.
    const P = out.original.ids.length;
    assert.deepEqual(out.adversarial.ids.slice(0, P), out.original.ids);
    assert.equal(out.adversarial.ids.length, P + 3);
    for (const id of out.adversarial.ids.slice(P)) assert.ok(id !== 4 && id !== 5, `denied id ${id} inserted`);
    assert.ok(out.steps.length <= 3 && out.queries <= 3 * 16 && out.gradients <= 3);
    out.steps.forEach((s, i) => {
      assert.equal(s.step, i + 1);
      assert.ok(i === 0 || s.queries >= out.steps[i - 1]!.queries, 'queries accumulate');
    });
    // Independent check: greedy decoding of the adversarial ids (a separate `generate` run).
    const gen = greedy(DEMO, out.adversarial.ids, target.length);
    assert.deepEqual(gen, out.adversarial.predictionIds);
    assert.equal(out.success, gen.join(',') === target.join(','), 'success iff greedy decoding yields the target');
    assert.deepEqual((await generate(demo, out.original.ids, { maxNewTokens: target.length, stopAtEos: false })).generated, out.original.predictionIds);
  });

  it('hotflip, untargeted, ids only: probabilities from a plain forward, success iff the top-1 token changed', async () => {
    const out = attackJson(['--model', GPT2, '--method', 'hotflip', '--ids', GPT2_IDS.join(','), '--positions', '2-4', '--steps', '2', '--candidates', '4']);
    assert.equal(out.goal.kind, 'untargeted');
    const answer = (out.goal as { answerIds: number[] }).answerIds[0]!;
    const lo = await lastLogits(gpt2, out.original.ids);
    assert.equal(answer, argmax(lo), 'the answer is the model\'s own top-1');
    assert.ok(Math.abs(out.original.prob - softmaxAt(lo, answer)) < 1e-4);
    const la = await lastLogits(gpt2, out.adversarial.ids);
    assert.ok(Math.abs(out.adversarial.prob - softmaxAt(la, answer)) < 1e-4, 'p(answer) on the adversarial input');
    assert.equal(out.success, argmax(la) !== answer);
    assert.equal(out.adversarial.ids.length, GPT2_IDS.length);
    out.adversarial.ids.forEach((id, i) => { if (i < 2 || i > 4) assert.equal(id, GPT2_IDS[i], `position ${i} is outside --positions`); });
  });

  it('input-reduction: fewer tokens, the same greedy prediction; text output with progress on stderr', async () => {
    const r = cli(['attack', '--model', DEMO, '--method', 'input-reduction', '--prompt', PROMPT, '--steps', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^input-reduction: remove tokens while the prediction " Paris" stays/);
    assert.match(r.stdout, /^original +<s>\[-/m, 'removed tokens marked in the original');
    assert.match(r.stdout, /^success: (yes|no) \(stop: \w+\), \d+ steps, \d+ queries/m);
    assert.match(r.stdout, /step +change +pos +from +to +loss +prob +queries +elapsed ms/);
    assert.match(r.stderr, /^step 1\/2 {2}queries \d+ {2}p=/m);
    const out = attackJson(['--model', DEMO, '--method', 'input-reduction', '--prompt', PROMPT, '--steps', '2']);
    assert.equal(out.success, out.adversarial.ids.length < out.original.ids.length);
    assert.equal(out.adversarial.ids.length, out.original.ids.length - out.steps.length);
    assert.deepEqual((await generate(demo, out.adversarial.ids, { maxNewTokens: 1, stopAtEos: false })).generated, out.original.predictionIds, 'the prediction stays');
  });

  it('budgets reach the search: --time-limit and --max-queries', () => {
    const t = attackJson(['--model', GPT2, '--method', 'gcg', '--ids', GPT2_IDS.join(','), '--target-ids', '3,9', '--time-limit', '0.0001']);
    assert.equal(t.stopReason, 'time');
    assert.equal(t.steps.length, 0);
    assert.equal((t.info['parameters'] as { budget: { maxTimeMs: number } }).budget.maxTimeMs, 0.1);
    const q = attackJson(['--model', GPT2, '--method', 'gcg', '--ids', GPT2_IDS.join(','), '--target-ids', '3,9', '--max-queries', '10', '--batch', '64']);
    assert.ok(q.queries <= 10, `${q.queries} queries`);
    assert.ok(q.success || q.stopReason === 'queries', q.stopReason);
  });

  describe('errors', () => {
    const base = ['--model', GPT2, '--ids', GPT2_IDS.join(',')];
    it('as the user sees them: one line with a stable code, non-zero exit', () => {
      fails(['attack', ...base, '--method', 'gcgg'], 'unknown_method', /closest: gcg/);
      fails(['attack', '--model', GPT2, '--ids', '1,64', '--method', 'hotflip'], 'token_out_of_range', /token id 64 at position 1/);
    });
    it('missing method, flags of other methods, conflicting flags', async () => {
      await refused(base, 'invalid_argument', /no --method given \(choose one of hotflip, input-reduction, gcg\)/);
      await refused([...base, '--method', 'gcg', '--beam', '2'], 'invalid_argument', /--beam does not apply to --method gcg \(--beam is for hotflip\)/);
      await refused([...base, '--method', 'input-reduction', '--adv-suffix', '2'], 'invalid_argument', /--adv-suffix is for hotflip, gcg/);
      await refused([...base, '--method', 'hotflip', '--top-k', '2'], 'invalid_argument', /--top-k is for gcg/);
      await refused([...base, '--method', 'hotflip', '--untargeted', '--target-ids', '3'], 'invalid_argument', /exclude each other/);
      await refused([...base, '--method', 'hotflip', '--adv-prefix', '2', '--adv-suffix', '2'], 'invalid_argument', /not both/);
      await refused([...base, '--method', 'gcg', '--time-limit', '0'], 'invalid_argument', /--time-limit 0/);
      await refused([...base, '--method', 'gcg', '--html-attribution', 'saliency', '--html', 'x.html'], 'unknown_method', /integrated-gradients, input-x-gradient/);
    });
    it('a target for input-reduction must be the model\'s own continuation', async () => {
      await refused(['--model', DEMO, '--prompt', PROMPT, '--method', 'input-reduction', '--target', ' Rome'], 'invalid_goal', /greedy decoding of the prompt does not yield the target/);
    });
    it('bad positions and out-of-range ids', async () => {
      await refused([...base, '--method', 'hotflip', '--positions', '5-2'], 'invalid_argument', /range "5-2" is backwards \(write it as 2-5\)/);
      await refused([...base, '--method', 'hotflip', '--positions', '3,7'], 'invalid_argument', /7 is outside the prompt of 7 tokens/);
      await refused([...base, '--method', 'hotflip', '--positions', 'x'], 'invalid_argument', /"x" is not a position/);
      await refused([...base, '--method', 'gcg', '--target-ids', '3,99'], 'token_out_of_range', /--target-ids: token id 99/);
      await refused([...base, '--method', 'gcg', '--deny-ids', '2,500'], 'token_out_of_range', /--deny-ids: token id 500 at position 1/);
    });
  });
});
