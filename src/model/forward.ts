/**
 * The forward pass of every supported architecture, written once in tf ops.
 *
 * `forwardSteps` is a generator that yields at each hook point (see visit.ts); `runForward` drives
 * it synchronously with hook functions and a cache. Differentiable end to end (tf.grad works
 * through it, including through hooks), so attribution and training use the same code.
 * The caller owns memory: wrap calls in tf.tidy and keep what must outlive it.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../formats/config.js';
import type { Params } from './params.js';
import type { HookFn } from './hooks.js';
import { norm } from './layers/norm.js';
import { ropeTables } from './layers/rope.js';
import { attention, type LayerKV } from './layers/attention.js';
import { mlp } from './layers/mlp.js';
import { visitor, type HookEvent } from './visit.js';

export interface KVCache {
  /** Per layer; entries below a forward's startLayer are missing. */
  layers: LayerKV[];
  /** Positions already processed. */
  length: number;
}

export interface ForwardInput {
  /** Token ids [B, T] (int32). Either ids or embeds. */
  ids?: tf.Tensor2D;
  /** Token-embedding rows [B, T, C] used instead of looking ids up (positions are still added). */
  embeds?: tf.Tensor3D;
  past?: KVCache;
  /** Which positions get logits: all (default), only the last, or none. */
  logits?: 'all' | 'last' | 'none';
  /** Stop after this layer's resid_post (cheaper when only early activations are needed). */
  stopAfterLayer?: number;
  /**
   * Start at this block with `resid` as its hook_resid_pre [B, T, C], skipping the embeddings and
   * earlier blocks (patching sweeps re-run only what a patch changes). `past`, if given, needs
   * entries only for layers >= startLayer; the returned cache holds only those layers.
   */
  startLayer?: number;
  resid?: tf.Tensor3D;
  /**
   * Outputs only for positions >= outputsFrom (default 0): the last block computes keys and values
   * for every position but everything after them (queries, attention output, MLP, residual) only
   * from this position on, as do ln_final and the logits, whose rows are then T - outputsFrom.
   * Earlier blocks run in full (later blocks need all their keys and values). ~6% of a GPT-2-small
   * forward for one output row. Hook points of the last block from attn_scores on, and
   * ln_final, then have T - outputsFrom positions: runForward refuses hook functions with it.
   * Not used implicitly (say, for `logits: 'last'`): the rows it computes differ from a full run's
   * in the last bits (products of other shapes), and a run with an observing hook must give the
   * same bytes as one without. Attribution objectives use it (methods/attribution/objective.ts).
   */
  outputsFrom?: number;
}

export interface ForwardOutput {
  logits: tf.Tensor3D | null; // [B, T or 1, V]
  kv: KVCache;
}

export interface StepOptions {
  /**
   * Run each block in its own tf scope, keeping only its residual output and KV entries, so a
   * block's intermediates are freed when the next block starts instead of when the caller's tidy
   * ends (a 64-token GPT-2-small prefill held ~150 MB of them until its end). Saved tensors of a
   * gradient tape are kept by the tape either way. Only for drivers that run every step
   * synchronously and keep no hook-point tensor beyond the call: `runForward` sets it when a run
   * has no hook functions and no cache. Default false.
   */
  blockScopes?: boolean;
}

export function* forwardSteps(c: ModelConfig, p: Params, input: ForwardInput, opts: StepOptions = {}): Generator<HookEvent, ForwardOutput, tf.Tensor | void> {
  const offset = input.past?.length ?? 0;
  const top = visitor(null, offset);

  // 1) embeddings (or the given residual when starting at a later block)
  const start = input.startLayer ?? 0;
  let resid: tf.Tensor;
  let B: number, T: number;
  if (start > 0) {
    if (!input.resid || start >= c.nLayers) throw new Error(`internal: startLayer ${start} needs resid and a layer below ${c.nLayers}`);
    resid = input.resid;
    [B, T] = input.resid.shape;
  } else {
    let tok: tf.Tensor3D;
    if (input.embeds) tok = input.embeds;
    else if (input.ids) tok = tf.gather(p.wte, input.ids) as unknown as tf.Tensor3D; // [B, T, C]
    else throw new Error('internal: forward needs ids or embeds');
    [B, T] = tok.shape;
    resid = yield* top('hook_embed', tok);
    if (c.positional === 'learned') {
      const positions = tf.range(offset, offset + T, 1, 'int32');
      const pos = tf.broadcastTo(tf.expandDims(tf.gather(p.wpe!, positions), 0), [B, T, c.dModel]); // [B, T, C]
      resid = tf.add(resid, yield* top('hook_pos_embed', pos));
    }
  }
  const rope = c.positional === 'rotary' ? ropeTables(c.ropeTheta, c.dHead, offset, T) : undefined;

  // 2) blocks
  const kvs: LayerKV[] = [];
  const last = Math.min(c.nLayers - 1, input.stopAfterLayer ?? c.nLayers - 1);
  const q0 = input.outputsFrom ?? 0;
  if (!Number.isInteger(q0) || q0 < 0 || q0 >= T) throw new Error(`internal: outputsFrom ${q0} must lie in [0, ${T})`);
  for (let l = start; l <= last; l++) {
    const lp = p.layers[l]!;
    const visit = visitor(l, offset);
    const from = l === c.nLayers - 1 ? q0 : 0; // only the last block can skip positions
    if (opts.blockScopes) tf.engine().startScope();
    try {
      resid = yield* visit('hook_resid_pre', resid);
      const h1 = (yield* visit('ln1.hook_normalized', norm(c.norm, resid, lp.ln1, c.normEps))) as tf.Tensor3D;
      const att = yield* attention({ c, p: lp, h: h1, past: input.past?.layers[l], rope, offset, visit, queryFrom: from });
      kvs[l] = att.kv; // indexed by layer: entries below startLayer stay empty
      const attnOut = yield* visit('hook_attn_out', att.out);
      if (from > 0) resid = tf.slice(resid, [0, from, 0], [B, T - from, c.dModel]); // [B, T - from, C]
      resid = yield* visit('hook_resid_mid', tf.add(resid, attnOut));
      const h2 = (yield* visit('ln2.hook_normalized', norm(c.norm, resid, lp.ln2, c.normEps))) as tf.Tensor3D;
      const mlpOut = yield* visit('hook_mlp_out', yield* mlp(c, lp, h2, visit));
      resid = yield* visit('hook_resid_post', tf.add(resid, mlpOut));
    } finally {
      // keeps the block's outputs (tracked by the caller's scope), disposes the rest
      if (opts.blockScopes) tf.engine().endScope([resid, ...(kvs[l] ? [kvs[l]!.k, kvs[l]!.v] : [])]);
    }
  }
  const kv: KVCache = { layers: kvs, length: offset + T };
  if (last < c.nLayers - 1) return { logits: null, kv };

  // 3) final norm and unembedding
  const final = yield* top('ln_final.hook_normalized', norm(c.norm, resid, p.lnF, c.normEps));
  const which = input.logits ?? 'all';
  if (which === 'none') return { logits: null, kv };
  const Tf = T - (last === c.nLayers - 1 ? q0 : 0); // rows of `final`
  const rows = which === 'last' && Tf > 1 ? tf.slice(final, [0, Tf - 1, 0], [B, 1, c.dModel]) : final;
  const Tl = rows.shape[1]!;
  const flat = tf.reshape(rows, [B * Tl, c.dModel]);
  let logits = p.wUT ? tf.matMul(flat, p.wUT) : tf.matMul(flat, p.wU, false, true); // [B Tl, V]
  if (p.bU) logits = tf.add(logits, p.bU);
  return { logits: tf.reshape(logits, [B, Tl, c.vocabSize]) as tf.Tensor3D, kv };
}

export interface RunHooks {
  /** Hook functions by exact hook name, called in order. */
  fns?: ReadonlyMap<string, readonly HookFn[]>;
  /** Hook names whose (possibly replaced) activations are stored into `cacheOut`. */
  cache?: ReadonlySet<string>;
  cacheOut?: Record<string, tf.Tensor>;
}

/** Runs `forwardSteps` to the end, applying hooks and filling the cache. */
export function runForward(c: ModelConfig, p: Params, input: ForwardInput, hooks: RunHooks = {}): ForwardOutput {
  // Without hooks nothing can hold a block's intermediates, so each block frees them as it ends.
  const plain = !hooks.fns?.size && !(hooks.cache?.size && hooks.cacheOut);
  if (input.outputsFrom && hooks.fns?.size) throw new Error('internal: outputsFrom cannot be combined with hook functions');
  const gen = forwardSteps(c, p, input, { blockScopes: plain });
  let step = gen.next();
  while (!step.done) {
    const ev = step.value;
    let t = ev.tensor;
    const fns = hooks.fns?.get(ev.name);
    if (fns) {
      for (const fn of fns) {
        const r = fn(t, { name: ev.name, site: ev.site, layer: ev.layer, posOffset: ev.posOffset });
        if (r) t = r;
      }
    }
    if (hooks.cache?.has(ev.name) && hooks.cacheOut) hooks.cacheOut[ev.name] = t;
    step = gen.next(t === ev.tensor ? undefined : t);
  }
  return step.value;
}
