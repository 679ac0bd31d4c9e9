/**
 * The patch-run engine shared by activation patching and causal tracing: runs a "target" input
 * (corrupted prompt or noised embeddings) many times, each time overwriting one site (a layer,
 * optionally one position and/or one head) with a stored "source" activation, and returns the
 * last-position logits of every run.
 *
 * Reuse: a patch at position p cannot change positions < p (causal attention), so runs are grouped
 * by p and start from the target's own KV cache truncated to p, computing only positions p..T-1;
 * the runs of a group go through one batched forward (batch rows = jobs). Non-goal: metrics.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';
import type { HookFn } from '../../model/hooks.js';
import type { KVCache } from '../../model/forward.js';

export interface PatchJob {
  layer: number;
  /** Sequence position to patch; null = every position. */
  pos: number | null;
  /** Head to patch (axis 2 of [B, T, H, D] hooks); null = the whole activation. */
  head: number | null;
}

export interface PatchRunInput {
  /** Hook site patched at every job's layer, e.g. 'hook_resid_pre' or 'attn.hook_z'. */
  site: string;
  /** Source activations by hook name, [1, T, ...]; the engine reads but does not dispose them. */
  source: Record<string, tf.Tensor>;
  /** The run that receives the patches. Its hooks must honour ctx.posOffset (they also run on suffixes). */
  target: { ids: readonly number[]; hooks?: Record<string, HookFn[]> };
  jobs: readonly PatchJob[];
  /** Rows per batched forward (default 16). */
  maxBatch?: number;
  /** Start each run from the target's KV cache at the patched position (default true). */
  reuse?: boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * Only these tokens' last-position logits are read out of each patched run (final norm, then a
   * product with just their unembedding rows) instead of all V: much cheaper for big vocabularies.
   */
  readout?: readonly number[];
}

export interface PatchRunOutput {
  /** Last-position logits of the unpatched target run [V]. */
  targetLogits: Float32Array;
  /** Last-position logits per job, in job order: [V], or [readout.length] with `readout`. */
  logits: Float32Array[];
  /** Token positions computed in all (a measure of the work done; T x jobs without reuse). */
  positionsComputed: number;
}

function disposeKV(kv: KVCache): void {
  for (const l of kv.layers) {
    l.k.dispose();
    l.v.dispose();
  }
}

/** The target's KV cache cut to its first s positions and repeated for B rows. */
function prefixKV(kv: KVCache, s: number, B: number): KVCache {
  return {
    length: s,
    layers: kv.layers.map((l) => {
      const [, K, , D] = l.k.shape;
      return {
        k: tf.tile(tf.slice(l.k, [0, 0, 0, 0], [1, K, s, D]), [B, 1, 1, 1]) as tf.Tensor4D,
        v: tf.tile(tf.slice(l.v, [0, 0, 0, 0], [1, K, s, D]), [B, 1, 1, 1]) as tf.Tensor4D,
      };
    }),
  };
}

/** Hook that writes source rows into the batch rows whose job targets this layer. */
function patchHook(jobs: readonly PatchJob[], layer: number, src: tf.Tensor): HookFn | null {
  const rows = jobs.map((j, b) => ({ j, b })).filter(({ j }) => j.layer === layer);
  if (rows.length === 0) return null;
  return (x, ctx) => {
    const [B, T] = x.shape as [number, number];
    const perHead = x.shape.length === 4;
    const H = perHead ? x.shape[2]! : 1;
    const m = new Float32Array(B * T * H);
    for (const { j, b } of rows) {
      for (let t = 0; t < T; t++) {
        if (j.pos !== null && j.pos !== ctx.posOffset + t) continue;
        for (let h = 0; h < H; h++) if (j.head === null || j.head === h) m[(b * T + t) * H + h] = 1;
      }
    }
    const mask = perHead ? tf.tensor4d(m, [B, T, H, 1]) : tf.tensor3d(m, [B, T, 1]);
    const begin = src.shape.map((_, i) => (i === 1 ? ctx.posOffset : 0));
    const size = src.shape.map((d, i) => (i === 1 ? T : d));
    const s = tf.slice(src, begin, size); // [1, T, ...] broadcast over the batch
    return tf.add(x, tf.mul(mask, tf.sub(s, x)));
  };
}

/** Logits of chosen tokens at the last position from the final-norm output [B, T, C] -> [B, n]. */
function readoutLogits(model: Model, final: tf.Tensor, tokens: readonly number[]): tf.Tensor2D {
  const [B, T, C] = final.shape as [number, number, number];
  const p = model.params;
  const idx = tf.tensor1d([...tokens], 'int32');
  const last = tf.reshape(tf.slice(final, [0, T - 1, 0], [B, 1, C]), [B, C]);
  let l = tf.matMul(last, tf.transpose(tf.gather(p.wU, idx))) as tf.Tensor2D; // [B, n]
  if (p.bU) l = tf.add(l, tf.gather(p.bU, idx)) as tf.Tensor2D;
  return l;
}

function mergeHooks(a: Record<string, HookFn[]> | undefined, b: Record<string, HookFn[]>): Record<string, HookFn[]> {
  const out: Record<string, HookFn[]> = { ...(a ?? {}) };
  for (const [k, fns] of Object.entries(b)) out[k] = [...(out[k] ?? []), ...fns];
  return out;
}

// LIMITATION: a run patched at layer L still recomputes layers 0..L-1 of its suffix (identical to the
// target run); the forward cannot start at a layer from a given residual yet (see the report's API request).
export async function runPatches(model: Model, input: PatchRunInput): Promise<PatchRunOutput> {
  const ids = input.target.ids;
  const T = ids.length;
  const maxBatch = Math.max(1, input.maxBatch ?? 16);
  const reuse = input.reuse ?? true;
  model.checkIds(ids);
  for (const j of input.jobs) {
    if (!input.source[`blocks.${j.layer}.${input.site}`]) throw new Error(`internal: no source activation for blocks.${j.layer}.${input.site}`);
  }
  // 1) the unpatched target run, keeping its KV cache for the suffix runs
  const full = tf.tidy(() => {
    const r = model.forward({ ids: model.idsTensor([ids]) }, { logits: 'last', ...(input.target.hooks ? { hooks: input.target.hooks } : {}) });
    return { logits: r.logits!, kv: r.kv } as unknown as tf.TensorContainer;
  }) as unknown as { logits: tf.Tensor3D; kv: KVCache };
  const out: PatchRunOutput = { targetLogits: (await full.logits.data()) as Float32Array, logits: new Array(input.jobs.length), positionsComputed: T };
  full.logits.dispose();
  try {
    // 2) group jobs by the first position they can change
    const groups = new Map<number, number[]>();
    input.jobs.forEach((j, i) => {
      const start = reuse && j.pos !== null ? j.pos : 0;
      groups.set(start, [...(groups.get(start) ?? []), i]);
    });
    let done = 0;
    for (const [start, members] of [...groups].sort((a, b) => a[0] - b[0])) {
      for (let c = 0; c < members.length; c += maxBatch) {
        const chunk = members.slice(c, c + maxBatch);
        const jobs = chunk.map((i) => input.jobs[i]!);
        const B = jobs.length;
        const V = model.config.vocabSize;
        const logits = tf.tidy(() => {
          const patch: Record<string, HookFn[]> = {};
          for (let l = 0; l < model.config.nLayers; l++) {
            const name = `blocks.${l}.${input.site}`;
            const src = input.source[name];
            const fn = src ? patchHook(jobs, l, src) : null;
            if (fn) patch[name] = [fn];
          }
          const suffix = ids.slice(start);
          const idsT = tf.tensor2d(Array.from({ length: B }, () => suffix).flat(), [B, suffix.length], 'int32');
          const past = start > 0 ? prefixKV(full.kv, start, B) : undefined;
          if (!input.readout) {
            const r = model.forward({ ids: idsT, ...(past ? { past } : {}) }, { logits: 'last', hooks: mergeHooks(input.target.hooks, patch) });
            return r.logits!; // [B, 1, V]
          }
          let final: tf.Tensor | null = null;
          patch['ln_final.hook_normalized'] = [(x) => { final = x; }];
          model.forward({ ids: idsT, ...(past ? { past } : {}) }, { logits: 'none', hooks: mergeHooks(input.target.hooks, patch) });
          return readoutLogits(model, final!, input.readout); // [B, n]
        });
        const width = input.readout ? input.readout.length : V;
        const data = (await logits.data()) as Float32Array;
        logits.dispose();
        chunk.forEach((jobIndex, b) => {
          out.logits[jobIndex] = data.slice(b * width, (b + 1) * width);
        });
        out.positionsComputed += B * (T - start);
        done += B;
        input.onProgress?.(done, input.jobs.length);
      }
    }
  } finally {
    disposeKV(full.kv);
  }
  return out;
}
