/**
 * The debugger session against independent references: paused tensors equal the PyTorch golden
 * activations, generation through the debugger reproduces the golden greedy ids, edits reproduce
 * the golden patching and head-ablation logits, stepping visits hook points in execution order,
 * and tensors are freed after a run, an abort and an error.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { assertClose } from '../helpers/close.js';
import { fixtureDir, golden } from '../helpers/fixtures.js';
import { loadModel, type Model } from '../../src/model/model.js';
import { generate } from '../../src/model/generate.js';
import { start, type Stop } from '../../src/debugger/session.js';
import { LlmdbgError } from '../../src/errors.js';

before(async () => {
  await useTestBackend();
});

function paused(s: Stop) {
  assert.equal(s.status, 'paused', `expected a pause, got ${s.status}`);
  return (s as Extract<Stop, { status: 'paused' }>).pause;
}

function finished(s: Stop) {
  assert.equal(s.status, 'finished', `expected the end, got ${s.status}`);
  return (s as Extract<Stop, { status: 'finished' }>).result;
}

function softmax(x: readonly number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Compares the debugger's full top list (all V candidates) with softmax(reference logits). */
function assertProbs(top: { id: number; prob: number }[], logits: readonly number[]): void {
  const p = softmax(logits);
  assert.equal(top.length, p.length);
  for (const c of top) assert.ok(Math.abs(c.prob - p[c.id]!) < 2e-5, `token ${c.id}: ${c.prob} vs ${p[c.id]}`);
}

async function noLeak(fn: () => Promise<void>): Promise<void> {
  const n0 = tf.memory().numTensors;
  await fn();
  assert.equal(tf.memory().numTensors, n0, 'tensors leaked');
}

describe('debugger: gpt2-tiny', () => {
  const g = golden('gpt2-tiny');
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('gpt2-tiny'));
  });

  it('a paused prefill tensor equals the PyTorch activation, for every hook point', () => noLeak(async () => {
    const run = start(model, g.ids[0]!, { breakpoints: [{ hook: '*' }] });
    const seen: string[] = [];
    for (let s = await run.continue(); s.status === 'paused'; s = await run.continue()) {
      const p = s.pause;
      const cur = run.current();
      assert.deepEqual(cur.shape, g.hooks[p.hook]!.shape);
      assertClose(p.hook, cur.data, g.hooks[p.hook]!.data);
      seen.push(p.hook);
    }
    assert.deepEqual(seen, model.hooks.map((h) => h.name));
    assert.equal(run.status, 'finished');
  }));

  it('generation through the debugger (pausing every layer) reproduces the golden greedy ids', () => noLeak(async () => {
    const run = start(model, g.greedy.prompt, { maxNewTokens: g.greedy.new_tokens, stopAtEos: false, breakpoints: [{ hook: 'blocks.*.hook_resid_post' }] });
    let pauses = 0;
    let s = await run.continue();
    while (s.status === 'paused') {
      pauses++;
      s = await run.continue();
    }
    assert.deepEqual(finished(s).ids, g.greedy.ids);
    assert.equal(pauses, model.config.nLayers * g.greedy.new_tokens);
  }));

  it('decoding steps hold the positions the KV cache adds; their pattern equals a full forward', () => noLeak(async () => {
    const run = start(model, g.greedy.prompt, { maxNewTokens: 4, stopAtEos: false, breakpoints: [{ hook: 'blocks.1.attn.hook_pattern', step: 2 }] });
    const p = paused(await run.continue());
    const P = g.greedy.prompt.length;
    assert.deepEqual([p.step, p.positions, p.shape, p.tokens], [2, [P + 1, P + 1], [1, 4, 1, P + 2], [g.greedy.ids[P + 1]]]);
    const cur = run.current();
    const full = await model.runWithCache(g.greedy.ids.slice(0, P + 2), ['blocks.1.attn.hook_pattern'], { logits: 'none' });
    const ref = full.cache['blocks.1.attn.hook_pattern']!; // [1, H, P+2, P+2]: take the last query row
    const S = P + 2;
    const rows: number[] = [];
    for (let h = 0; h < 4; h++) for (let k = 0; k < S; k++) rows.push(ref.data[(h * S + (S - 1)) * S + k]!);
    assertClose('pattern row', cur.data, rows);
    run.abort();
  }));

  it('step visits hook points in execution order; next layer and next token jump as documented', () => noLeak(async () => {
    const run = start(model, [0, 51, 14], { maxNewTokens: 2, stopAtEos: false });
    const names: string[] = [];
    let p = paused(await run.stepHook());
    names.push(p.hook);
    while (names.length < model.hooks.length) names.push(paused(await run.stepHook()).hook);
    assert.deepEqual(names, model.hooks.map((h) => h.name));
    p = paused(await run.next('layer'));
    assert.deepEqual([p.hook, p.step], ['hook_embed', 1]);
    p = paused(await run.next('layer'));
    assert.equal(p.hook, 'blocks.0.hook_resid_pre');
    p = paused(await run.next('layer'));
    assert.equal(p.hook, 'blocks.1.hook_resid_pre');
    p = paused(await run.stepHook(3));
    assert.equal(p.hook, model.hooks[model.hooks.findIndex((h) => h.name === 'blocks.1.hook_resid_pre') + 3]!.name);
    assert.equal(finished(await run.next('token')).generated.length, 2);
  }));

  it('layer, position and hit-count filters pause where they should', () => noLeak(async () => {
    const run = start(model, [0, 51, 14], { maxNewTokens: 4, stopAtEos: false, breakpoints: [
      { hook: 'blocks.*.hook_mlp_out', layer: 1, position: 4 },
      { hook: 'hook_embed', hitCount: 3 },
    ] });
    let p = paused(await run.continue());
    assert.deepEqual([p.hook, p.step, p.positions, p.breakpoints.map((b) => b.id)], ['hook_embed', 2, [4, 4], [2]]);
    p = paused(await run.continue());
    assert.deepEqual([p.hook, p.step, p.positions], ['blocks.1.hook_mlp_out', 2, [4, 4]]);
    p = paused(await run.continue());
    assert.deepEqual([p.hook, p.step], ['hook_embed', 3], 'a hit count keeps firing after the n-th hit');
    run.abort();
    assert.equal(run.breakpoints()[1]!.hits, 4);
  }));

  it('conditions: norm and |x| thresholds fire where the PyTorch activations cross them', () => noLeak(async () => {
    // per-position norms of every resid_post, from the golden data
    const T = g.ids[0]!.length, C = 32;
    const norms = (hook: string) => Array.from({ length: T }, (_, t) => Math.hypot(...g.hooks[hook]!.data.slice(t * C, (t + 1) * C)));
    const n0 = norms('blocks.0.hook_resid_post'), n1 = norms('blocks.1.hook_resid_post');
    const threshold = (Math.max(...n0) + Math.max(...n1)) / 2;
    assert.ok(Math.max(...n0) < threshold && Math.max(...n1) > threshold, 'the fixture separates the layers');
    const run = start(model, g.ids[0]!, { breakpoints: [{ hook: 'blocks.*.hook_resid_post', condition: { kind: 'norm_above', threshold } }] });
    const p = paused(await run.continue());
    assert.equal(p.hook, 'blocks.1.hook_resid_post');
    const worst = n1.indexOf(Math.max(...n1));
    assert.match(p.breakpoints[0]!.detail!, new RegExp(`^norm ${Math.max(...n1).toPrecision(4)} > .* at batch 0, pos ${worst}$`));
    run.abort();

    const absMax = Math.max(...g.hooks['blocks.0.mlp.hook_post']!.data.map(Math.abs));
    const r2 = start(model, g.ids[0]!, { breakpoints: [{ hook: 'blocks.0.mlp.*', condition: { kind: 'abs_above', threshold: absMax * 0.999 } }] });
    assert.equal(paused(await r2.continue()).hook, Math.max(...g.hooks['blocks.0.mlp.hook_pre']!.data.map(Math.abs)) > absMax * 0.999 ? 'blocks.0.mlp.hook_pre' : 'blocks.0.mlp.hook_post');
    r2.abort();
  }));

  it('conditions: entropy below a threshold names the head and position with the lowest entropy', () => noLeak(async () => {
    const pat = g.hooks['blocks.1.attn.hook_pattern']!;
    const [, H, T, S] = pat.shape as [number, number, number, number];
    let best = Infinity, bh = -1, bt = -1;
    for (let h = 0; h < H; h++) for (let t = 1; t < T; t++) {
      let e = 0;
      for (let s = 0; s < S; s++) {
        const p = pat.data[(h * T + t) * S + s]!;
        if (p > 0) e -= p * Math.log(p);
      }
      if (e < best) [best, bh, bt] = [e, h, t];
    }
    const run = start(model, g.ids[0]!, { breakpoints: [{ hook: 'blocks.1.attn.hook_pattern', condition: { kind: 'entropy_below', threshold: best * 1.0001 + 1e-6 } }] });
    const p = paused(await run.continue());
    // position 0 attends to itself only (entropy 0), so restrict to a later position to check the head
    assert.match(p.breakpoints[0]!.detail!, /^entropy 0 < .* at head 0, pos 0$/);
    run.abort();
    const r2 = start(model, g.ids[0]!, { breakpoints: [{ hook: 'blocks.1.attn.hook_pattern', position: bt, condition: { kind: 'entropy_below', threshold: best * 1.0001 + 1e-6 } }] });
    assert.match(paused(await r2.continue()).breakpoints[0]!.detail!, new RegExp(`at head ${bh}, pos ${bt}$`));
    r2.abort();
  }));

  it('an edited NaN pauses a nonfinite breakpoint at the first consumer', () => noLeak(async () => {
    const run = start(model, g.ids[0]!, { breakpoints: [{ hook: 'blocks.0.hook_resid_mid' }] });
    paused(await run.continue());
    run.set([0, 3, 7], NaN);
    run.addBreakpoint({ condition: { kind: 'nonfinite' } });
    const p = paused(await run.continue());
    assert.equal(p.hook, 'blocks.0.ln2.hook_normalized');
    assert.match(p.breakpoints[0]!.detail!, /^NaN at \[0, 3, 0\]/);
    run.abort();
  }));

  it('edits reproduce the golden resid_pre patch and L0H1 ablation logits', () => noLeak(async () => {
    const pt = g.patching!;
    const V = model.config.vocabSize, T = pt.clean_ids[0]!.length;
    for (const [L, pos] of [[0, 1], [1, 1], [1, 5]] as const) {
      const run = start(model, pt.corrupt_ids[0]!, { topCandidates: V, breakpoints: [{ hook: `blocks.${L}.hook_resid_pre` }] });
      paused(await run.continue());
      const clean = g.hooks[`blocks.${L}.hook_resid_pre`]!.data.slice(pos * 32, (pos + 1) * 32);
      run.set(`[0, ${pos}, :]`, clean);
      const r = finished(await run.continue());
      assertProbs(r.lastTop, pt.resid_pre_patch_last_logits.data.slice((L * T + pos) * V, (L * T + pos + 1) * V));
    }
    const run = start(model, pt.clean_ids[0]!, { topCandidates: V, breakpoints: [{ hook: 'blocks.0.attn.hook_z' }] });
    paused(await run.continue());
    run.zero('head=1');
    const r = finished(await run.continue());
    assertProbs(r.lastTop, pt.ablate_L0H1_last_logits.data);
    assert.equal(r.edits.length, 1);
  }));
});

describe('debugger: llama-tiny generation, edits and bad input', () => {
  const g = golden('llama-tiny');
  let model: Model;
  before(() => {
    model = loadModel(fixtureDir('llama-tiny'));
  });

  it('greedy generation through the debugger reproduces the golden ids (GQA, rotary)', () => noLeak(async () => {
    const run = start(model, g.greedy.prompt, { maxNewTokens: g.greedy.new_tokens, stopAtEos: false, breakpoints: [{ hook: 'blocks.0.attn.hook_rot_k' }] });
    let s = await run.continue();
    while (s.status === 'paused') s = await run.continue();
    assert.deepEqual(finished(s).ids, g.greedy.ids);
  }));

  it('an edit at the prefill pass persists through the KV cache: same ids as a hooked generate()', () => noLeak(async () => {
    const run = start(model, g.greedy.prompt, { maxNewTokens: 6, stopAtEos: false, breakpoints: [{ hook: 'blocks.0.hook_attn_out', step: 0 }] });
    paused(await run.continue());
    run.scale('[0, 1, :]', -3);
    const r = finished(await run.continue());
    const ref = await generate(model, g.greedy.prompt, {
      maxNewTokens: 6, stopAtEos: false,
      hooks: { 'blocks.0.hook_attn_out': (x, ctx) => (ctx.posOffset === 0 ? tf.tidy(() => tf.concat([tf.slice(x, [0, 0, 0], [1, 1, -1]), tf.mul(tf.slice(x, [0, 1, 0], [1, 1, -1]), -3), tf.slice(x, [0, 2, 0], [1, -1, -1])], 1)) : undefined) },
    });
    assert.deepEqual(r.ids, ref.ids);
    const plain = await generate(model, g.greedy.prompt, { maxNewTokens: 6, stopAtEos: false });
    assert.notDeepEqual(r.ids, plain.ids, 'the edit changes the continuation');
  }));

  it('bad input gets one clear error and leaves the paused run usable', () => noLeak(async () => {
    const run = start(model, g.ids[0]!, { maxNewTokens: 2, stopAtEos: false, breakpoints: [{ hook: 'blocks.1.hook_resid_mid' }] });
    const p = paused(await run.continue());
    const before = run.current().data;
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        assert.ok(e instanceof LlmdbgError);
        assert.ok(!e.oneLine().includes('\n'));
        return e.code;
      }
      return 'no error';
    };
    assert.equal(code(() => run.set('[0, 1, :]', [1, 2, 3])), 'hook_shape_mismatch');
    assert.equal(code(() => run.set('[0, 99, :]', 0)), 'invalid_slice');
    assert.equal(code(() => run.set('[0, 1, 2, 3]', 0)), 'invalid_slice');
    assert.equal(code(() => run.zero('head=1')), 'invalid_slice');
    assert.equal(code(() => run.addBreakpoint({ hook: 'blocks.9.hook_resid_mid' })), 'unknown_hook');
    assert.equal(code(() => run.addBreakpoint({ hook: 'blocks.*.hook_resid_mid', layer: 5 })), 'invalid_condition');
    assert.equal(code(() => run.addBreakpoint({ step: 2 })), 'invalid_condition');
    assert.equal(code(() => run.addBreakpoint({ position: 3, step: 1 })), 'invalid_condition');
    assert.equal(code(() => run.addBreakpoint({ hook: 'hook_embed', condition: { kind: 'entropy_below', threshold: 0.5 } })), 'invalid_condition');
    assert.equal(code(() => run.addBreakpoint({ condition: { kind: 'abs_above', threshold: NaN } })), 'invalid_condition');
    assert.equal(code(() => run.addBreakpoint({ condition: { kind: 'bigger' } as never })), 'invalid_condition');
    assert.deepEqual(run.pause, p);
    assert.deepEqual(run.current().data, before, 'nothing was changed');
    assert.equal(run.edits().length, 0);
    assert.deepEqual(run.deleteBreakpoint(), [1]);
    const r = finished(await run.continue());
    const ref = await generate(model, g.ids[0]!, { maxNewTokens: 2, stopAtEos: false });
    assert.deepEqual(r.ids, ref.ids, 'the run went on unchanged');
    assert.equal(code(() => run.current()), 'not_paused');
    await assert.rejects(run.continue(), (e: LlmdbgError) => e.code === 'not_paused');
  }));

  it('interrupt() pauses an advancing run at its next hook point; it then finishes as usual', () => noLeak(async () => {
    const run = start(model, g.greedy.prompt, { maxNewTokens: 8, stopAtEos: false });
    const pending = run.continue();
    run.interrupt();
    const p = paused(await pending);
    assert.equal(p.reason, 'interrupt');
    assert.equal(p.step, 0);
    assert.deepEqual(finished(await run.continue()).ids, g.greedy.ids);
  }));

  it('abort mid-pass with a pending edit frees every tensor; a failing run frees them too', () => noLeak(async () => {
    const run = start(model, g.ids[0]!, { maxNewTokens: 3, stopAtEos: false, breakpoints: [{ hook: 'blocks.1.attn.hook_z', step: 1 }] });
    paused(await run.continue());
    run.zero();
    assert.equal(run.abort().status, 'aborted');
    assert.equal(run.status, 'aborted');
    const n0 = tf.memory().numTensors;
    const r2 = start(model, g.ids[0]!, { breakpoints: [{ hook: 'blocks.0.hook_resid_pre' }] });
    paused(await r2.continue());
    // sabotage: a replacement tensor of the wrong shape makes the forward generator throw
    (r2 as unknown as { pass: { replacement: tf.Tensor } }).pass.replacement = tf.zeros([2, 2]);
    await assert.rejects(r2.continue(), /hook_shape_mismatch|replacement has shape/);
    assert.equal(r2.status, 'aborted');
    assert.equal(tf.memory().numTensors, n0);
  }));
});
