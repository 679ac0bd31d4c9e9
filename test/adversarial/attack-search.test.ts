/**
 * The attack searches on the tiny fixture models against independent references: exhaustive
 * brute force over single-token swaps (hotflip with every candidate, gcg on a one-token suffix with
 * the whole vocabulary), input reduction re-checked on full logits (prediction kept, minimal),
 * success flags re-checked by greedy generation, determinism, budgets, abort, no tensor leaks.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';
import { attack, type AttackRequest, type AttackResult } from '../../src/methods/adversarial/index.js';

before(async () => {
  await useTestBackend();
});

function logSoftmax(row: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]!);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  return Array.from(row, (x) => x - m - Math.log(s));
}

function argmax(row: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[b]!) b = i;
  return b;
}

type Goal = { kind: 'targeted'; target: number[] } | { kind: 'untargeted'; answer: number };

/** Loss and success of many prompts from full logits (model.run, batches of 64). */
async function reference(model: Model, rows: number[][], goal: Goal): Promise<{ loss: number; success: boolean }[]> {
  const V = model.config.vocabSize;
  const out: { loss: number; success: boolean }[] = [];
  for (let s = 0; s < rows.length; s += 64) {
    const part = rows.slice(s, s + 64);
    const inputs = part.map((r) => (goal.kind === 'targeted' ? [...r, ...goal.target.slice(0, -1)] : r));
    const r = model.run(inputs);
    const data = (await r.logits!.data()) as Float32Array;
    r.logits!.dispose();
    const T = inputs[0]!.length;
    part.forEach((p, b) => {
      const row = (t: number) => data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      if (goal.kind === 'untargeted') {
        const l = row(p.length - 1);
        out.push({ loss: logSoftmax(l)[goal.answer]!, success: argmax(l) !== goal.answer });
        return;
      }
      let sum = 0;
      let ok = true;
      goal.target.forEach((id, i) => {
        const l = row(p.length - 1 + i);
        sum += logSoftmax(l)[id]!;
        if (argmax(l) !== id) ok = false;
      });
      out.push({ loss: -sum, success: ok });
    });
  }
  return out;
}

/** The attacker's best of scored inputs: success first, then lower loss. */
function bestOf(scored: { loss: number; success: boolean }[]): { loss: number; success: boolean } {
  return scored.reduce((a, b) => (b.success !== a.success ? (b.success ? b : a) : b.loss < a.loss ? b : a));
}

async function greedy(model: Model, ids: number[], n: number): Promise<number[]> {
  return (await generate(model, ids, { maxNewTokens: n, stopAtEos: false })).generated;
}

/** Runs an attack and asserts that no tensor leaked. */
async function run(model: Model, req: AttackRequest): Promise<AttackResult> {
  const n0 = tf.memory().numTensors;
  const r = await attack(model, req);
  assert.equal(tf.memory().numTensors, n0, 'no tensor may leak');
  return r;
}

/** The result without timings, for determinism checks. */
function untimed(r: AttackResult): unknown {
  const { ms: _ms, info, steps, ...rest } = r;
  const { durationMs: _d, ...infoRest } = info;
  return { ...rest, info: infoRest, steps: steps.map(({ ms: _m, ...s }) => s) };
}

const LLAMA_IDS = [1, 10, 20, 30, 40, 50];
const V = 64;
const nonSpecial = [...Array(V).keys()].filter((i) => i !== 1 && i !== 2);

describe('attacks on llama-tiny', () => {
  let model: Model;
  let answer: number;
  before(async () => {
    model = loadModel(fixtureDir('llama-tiny'));
    answer = (await greedy(model, LLAMA_IDS, 1))[0]!;
  });

  for (const goal of [{ kind: 'untargeted' }, { kind: 'targeted', target: [5, 6] }] as Goal[]) {
    it(`hotflip with every candidate finds the brute-force best single swap (${goal.kind})`, async () => {
      const g: Goal = goal.kind === 'untargeted' ? { kind: 'untargeted', answer } : goal;
      const rows: number[][] = [];
      for (let t = 1; t < LLAMA_IDS.length; t++) for (const v of nonSpecial) if (v !== LLAMA_IDS[t]) rows.push(LLAMA_IDS.map((x, i) => (i === t ? v : x)));
      const brute = bestOf(await reference(model, rows, g));
      const r = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal: g.kind === 'targeted' ? { kind: 'targeted', targetIds: g.target } : { kind: 'untargeted' }, candidates: 10000, budget: { maxSteps: 1 } });
      assert.equal(r.queries, rows.length, 'every single swap evaluated exactly once');
      assert.equal(r.steps.length, 1);
      const mine = (await reference(model, [r.adversarial.ids], g))[0]!;
      assert.equal(mine.success, brute.success);
      assert.ok(Math.abs(mine.loss - brute.loss) < 1e-5, `hotflip ${mine.loss} vs brute force ${brute.loss}`);
      assert.ok(Math.abs(r.steps[0]!.loss - mine.loss) < 1e-4, 'the logged loss is the exact loss');
      assert.equal(r.success, mine.success);
    });
  }

  it('gcg on a one-token suffix with topK = V and a batch covering it finds the brute-force optimum', async () => {
    const target = [7, 7];
    const g: Goal = { kind: 'targeted', target };
    const rows = nonSpecial.map((v) => [...LLAMA_IDS, v]);
    const brute = bestOf(await reference(model, rows, g));
    const r = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal: { kind: 'targeted', targetIds: target }, adv: { where: 'suffix', length: 1, initId: 40 }, topK: V, batch: V, budget: { maxSteps: 1 } });
    assert.equal(r.queries, nonSpecial.length - 1, 'every allowed token but the current one');
    const mine = (await reference(model, [r.adversarial.ids], g))[0]!;
    assert.ok(Math.abs(mine.loss - brute.loss) < 1e-5, `gcg ${mine.loss} vs brute force ${brute.loss}`);
    assert.deepEqual(r.adversarial.ids.slice(0, LLAMA_IDS.length), LLAMA_IDS, 'the prompt itself is intact');
    assert.deepEqual(r.original.ids, LLAMA_IDS);
  });

  it('untargeted hotflip success is confirmed by greedy generation, and only allowed positions change', async () => {
    const r = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal: { kind: 'untargeted' }, positions: [2, 4] });
    assert.equal(r.success, true);
    assert.deepEqual(r.goal, { kind: 'untargeted', answerIds: [answer] });
    const next = await greedy(model, r.adversarial.ids, 1);
    assert.notEqual(next[0], answer);
    assert.deepEqual(r.adversarial.predictionIds, next);
    assert.deepEqual(r.original.predictionIds, [answer]);
    r.adversarial.ids.forEach((id, i) => {
      if (![2, 4].includes(i)) assert.equal(id, LLAMA_IDS[i]);
      else assert.ok(id !== 1 && id !== 2, 'no special token inserted');
    });
    assert.ok(r.adversarial.prob < r.original.prob);
  });

  it('targeted gcg success is confirmed by greedy generation of the whole target', async () => {
    const target = [44, 44];
    const r = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal: { kind: 'targeted', targetIds: target }, adv: { where: 'suffix', length: 3 }, batch: 32, topK: 8, budget: { maxSteps: 30 }, seed: 3 });
    const gen = await greedy(model, r.adversarial.ids, target.length);
    assert.equal(r.success, gen.every((id, i) => id === target[i]), 'success flag agrees with generation');
    assert.ok(r.success, `expected the attack to succeed on a tiny model (stop: ${r.stopReason}, p=${r.adversarial.prob})`);
    assert.deepEqual(r.adversarial.predictionIds, target);
    assert.ok(r.adversarial.prob > r.original.prob);
    assert.equal(r.gradients, r.steps.length);
  });

  it('gcg with a prefix keeps BOS first and the question intact', async () => {
    const r = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal: { kind: 'untargeted', answerIds: [answer] }, adv: { where: 'prefix', length: 2, initId: 12 }, batch: 8, budget: { maxSteps: 3 } });
    assert.equal(r.adversarial.ids[0], 1);
    assert.deepEqual(r.adversarial.ids.slice(3), LLAMA_IDS.slice(1));
    assert.deepEqual((r.info['start'] as { ids: number[] }).ids, [1, 12, 12, ...LLAMA_IDS.slice(1)]);
    for (const s of r.steps) assert.ok(s.change.position === 1 || s.change.position === 2);
  });

  it('hotflip with adv flips only the added tokens', async () => {
    const r = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal: { kind: 'targeted', targetIds: [44] }, adv: { where: 'suffix', length: 2, initId: 12 }, budget: { maxSteps: 2 } });
    assert.deepEqual(r.original.ids, LLAMA_IDS);
    assert.deepEqual(r.adversarial.ids.slice(0, LLAMA_IDS.length), LLAMA_IDS);
    assert.equal(r.adversarial.ids.length, LLAMA_IDS.length + 2);
    assert.ok(r.steps.length > 0);
    for (const s of r.steps) assert.ok([6, 7].includes(s.change.position));
    const g: Goal = { kind: 'targeted', target: [44] };
    const ref = (await reference(model, [r.adversarial.ids], g))[0]!;
    assert.ok(Math.abs(Math.exp(-ref.loss) - r.adversarial.prob) < 1e-5);
    assert.ok(r.adversarial.prob > (r.info['start'] as { prob: number }).prob, 'the flips raised p(target)');
  });

  it('input reduction keeps the prediction (re-checked on full logits) and is minimal', async () => {
    const ids = [1, 5, 6, 7, 8, 9, 10, 11, 12];
    const ans = (await greedy(model, ids, 1))[0]!;
    const r = await run(model, { method: 'input-reduction', ids, goal: { kind: 'untargeted' } });
    assert.equal(r.stopReason, 'converged');
    const red = r.adversarial.ids;
    assert.ok(red.length < ids.length && r.success);
    assert.equal(red[0], 1, 'BOS is not removable by default');
    assert.equal(ids.length - red.length, r.steps.length);
    const g: Goal = { kind: 'untargeted', answer: ans };
    assert.equal((await reference(model, [red], g))[0]!.success, false, 'the prediction is kept');
    // minimal: no single further removal (BOS excluded) keeps it
    const further = red.map((_, j) => red.filter((__, i) => i !== j)).slice(1);
    if (further.length > 0 && further[0]!.length > 0) for (const s of await reference(model, further, g)) assert.equal(s.success, true, 'some removal still keeps the prediction');
    // step 1 removed the token whose removal keeps the answer with the highest probability
    const firstRemovals = ids.map((_, j) => ids.filter((__, i) => i !== j)).slice(1);
    const kept = (await reference(model, firstRemovals, g)).filter((x) => !x.success);
    const bestKept = Math.max(...kept.map((x) => x.loss));
    assert.ok(Math.abs(Math.log(r.steps[0]!.prob) - bestKept) < 1e-4, `step 1 log p ${Math.log(r.steps[0]!.prob)} vs best ${bestKept}`);
    // the log removes original positions, each once
    const removed = r.steps.map((s) => s.change.position);
    assert.equal(new Set(removed).size, removed.length);
    assert.deepEqual(ids.filter((_, i) => !removed.includes(i)), red);
  });

  it('targeted input reduction keeps the greedy continuation', async () => {
    const ids = [1, 5, 6, 7, 8, 9, 10, 11, 12];
    const cont = await greedy(model, ids, 2);
    const r = await run(model, { method: 'input-reduction', ids, goal: { kind: 'targeted', targetIds: cont } });
    assert.deepEqual(await greedy(model, r.adversarial.ids, 2), cont);
    assert.ok(r.success && r.steps.length > 0);
    assert.equal(r.stopReason, 'converged');
    {
      for (let j = 1; j < r.adversarial.ids.length; j++) {
        const fewer = r.adversarial.ids.filter((_, i) => i !== j);
        assert.notDeepEqual(await greedy(model, fewer, 2), cont, `removing position ${j} must change the continuation`);
      }
    }
  });

  it('is deterministic: same request, same result (except timings); the seed matters', async () => {
    const req: AttackRequest = { method: 'gcg', ids: LLAMA_IDS, goal: { kind: 'targeted', targetIds: [3, 4, 5] }, adv: { where: 'suffix', length: 3 }, batch: 16, topK: 8, budget: { maxSteps: 4 }, seed: 11 };
    const a = await run(model, req);
    const b = await run(model, req);
    assert.deepEqual(untimed(a), untimed(b));
    const c = await run(model, { ...req, seed: 12 });
    assert.notDeepEqual(c.steps.map((s) => s.ids), a.steps.map((s) => s.ids));
    const h1 = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal: { kind: 'targeted', targetIds: [3, 4] }, beam: 3 });
    const h2 = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal: { kind: 'targeted', targetIds: [3, 4] }, beam: 3 });
    assert.deepEqual(untimed(h1), untimed(h2));
  });

  it('respects the query, step and time budgets', async () => {
    const goal = { kind: 'targeted' as const, targetIds: [3, 4, 5] };
    const q = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal, batch: 40, topK: 16, budget: { maxQueries: 100, maxSteps: 50 } });
    assert.ok(q.queries <= 100);
    assert.equal(q.stopReason, 'queries');
    assert.equal(q.queries, 100);
    assert.equal(q.steps.at(-1)!.queries, 100);
    const h = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal, candidates: 16, budget: { maxQueries: 20, maxSteps: 10 } });
    assert.ok(h.queries <= 20 && ['queries', 'converged'].includes(h.stopReason), h.stopReason);
    const s = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal, batch: 8, budget: { maxSteps: 2 } });
    assert.equal(s.steps.length, 2);
    assert.equal(s.stopReason, 'steps');
    assert.equal(s.queries, s.steps.at(-1)!.queries);
    const t = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal, batch: 8, budget: { maxTimeMs: 1, maxSteps: 1000 } });
    assert.equal(t.stopReason, 'time');
    assert.ok(t.steps.length <= 1);
    const ir = await run(model, { method: 'input-reduction', ids: [1, 10, 20, 30, 40, 50, 60, 11, 21], goal: { kind: 'untargeted' }, budget: { maxQueries: 5 } });
    assert.ok(ir.queries <= 5);
    assert.ok(ir.gradients >= 1, 'saliency ranks removals when the budget cannot cover all');
  });

  it('aborts: before the first step, after a step, and between batches, returning the best so far', async () => {
    const goal = { kind: 'targeted' as const, targetIds: [3, 4, 5] };
    const ac = new AbortController();
    ac.abort();
    const a = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal, signal: ac.signal });
    assert.equal(a.stopReason, 'aborted');
    assert.equal(a.steps.length, 0);
    assert.equal(a.queries, 0);
    assert.deepEqual(a.adversarial.ids, (a.info['start'] as { ids: number[] }).ids);
    const ac2 = new AbortController();
    const progress: number[] = [];
    const b = await run(model, { method: 'gcg', ids: LLAMA_IDS, goal, batch: 8, signal: ac2.signal, onProgress: (p) => { progress.push(p.step); ac2.abort(); } });
    assert.equal(b.stopReason, 'aborted');
    assert.equal(b.steps.length, 1);
    assert.deepEqual(progress, [1]);
    // a signal that fires in the middle of a step's batches (tiny memory budget: one row per batch)
    let reads = 0;
    const fake = { get aborted() { return ++reads > 6; } } as unknown as AbortSignal;
    const c = await run(model, { method: 'hotflip', ids: LLAMA_IDS, goal, memoryMB: 0.001, signal: fake });
    assert.equal(c.stopReason, 'aborted');
    assert.ok(c.queries > 0 && c.queries < 16, `aborted mid-step after ${c.queries} queries`);
    assert.equal(c.steps.length, 0);
    assert.deepEqual(c.adversarial.ids, LLAMA_IDS);
  });
});

describe('attacks on gpt2-tiny (no BOS in the prompt)', () => {
  it('hotflip may change every position and reports provenance', async () => {
    const model = loadModel(fixtureDir('gpt2-tiny'));
    const ids = [5, 17, 33, 8, 21];
    const r = await run(model, { method: 'hotflip', ids, goal: { kind: 'untargeted' }, beam: 2, candidates: 8 });
    assert.deepEqual((r.info['parameters'] as { positions: number[] }).positions, [0, 1, 2, 3, 4]);
    assert.equal(r.info['method'], 'hotflip');
    assert.equal((r.info['model'] as { arch: string }).arch, 'gpt2');
    assert.equal(r.info['seed'], 0);
    assert.equal(r.success, (await greedy(model, r.adversarial.ids, 1))[0] !== r.goal.answerIds![0]);
    for (const id of r.adversarial.ids) assert.notEqual(id, 63, 'BOS/EOS never inserted');
    assert.equal(JSON.parse(JSON.stringify(r)).steps.length, r.steps.length, 'JSON-serialisable');
  });
});
