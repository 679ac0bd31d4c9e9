/**
 * Turns a validated intervention spec into hook functions for one prompt: each edit becomes a
 * mask over the hook's tensor (layers, heads, query and key positions, restricted to causally
 * visible cells for scores/patterns) and an elementwise, differentiable update. Works with the
 * KV cache (masks follow `ctx.posOffset`), so the same hooks drive generation.
 * Non-goals: validation (spec.ts) and comparing runs (compare.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import type { HookContext, HookFn } from '../../model/hooks.js';
import { MASKED_SCORE } from '../../model/layers/attention.js';
import { EDIT_HOOKS, type Edit, type InterventionSpec, type ReferenceSet } from './spec.js';

export interface CompiledIntervention {
  spec: InterventionSpec;
  /** Hooks to pass to `model.run`, `model.forward` or `generate`. */
  hooks: Record<string, HookFn[]>;
  /** Hook names that are edited, in spec order. */
  targets: string[];
  /** Frees the reference means held for `mean` edits. */
  dispose(): void;
}

interface Resolved {
  edit: Edit;
  positions: Set<number> | null; // absolute query positions, null = all
  keys: Set<number> | null;
  heads: Set<number> | null;
}

function resolvePositions(list: number[] | undefined, promptLength: number, path: string): Set<number> | null {
  if (!list) return null;
  return new Set(list.map((p, i) => {
    const abs = p < 0 ? promptLength + p : p;
    if (abs < 0) throw new LlmdbgError('invalid_spec', `${path}[${i}] = ${p} points before the start of the ${promptLength}-token prompt`, { hint: 'negative positions count from the end of the prompt (-1 = last token)' });
    return abs;
  }));
}

/**
 * Host mask for one hook call, shaped to broadcast against x; null when the call edits nothing.
 * [B, T, C|M] -> [1, T, 1]; [B, T, H, D] -> [1, T, H, 1]; [B, H, T, S] -> [1, H, T, S].
 */
export function editMask(r: Resolved, shape: readonly number[], offset: number, window: number | null): tf.Tensor | null {
  const isScore = r.edit.hook === 'scores' || r.edit.hook === 'pattern';
  const qOk = (t: number) => r.positions === null || r.positions.has(offset + t);
  const hOk = (h: number) => r.heads === null || r.heads.has(h);
  let any = false;
  if (isScore) {
    const [, H, T, S] = shape as [number, number, number, number];
    const m = new Float32Array(H * T * S);
    for (let h = 0; h < H; h++) {
      if (!hOk(h)) continue;
      for (let t = 0; t < T; t++) {
        if (!qOk(t)) continue;
        const q = offset + t;
        for (let s = 0; s < S; s++) {
          const visible = s <= q && (window === null || q - s < window);
          if (visible && (r.keys === null || r.keys.has(s))) {
            m[(h * T + t) * S + s] = 1;
            any = true;
          }
        }
      }
    }
    return any ? tf.tensor4d(m, [1, H, T, S]) : null;
  }
  if (shape.length === 4) {
    const [, T, H] = shape as [number, number, number, number];
    const m = new Float32Array(T * H);
    for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) if (qOk(t) && hOk(h)) { m[t * H + h] = 1; any = true; }
    return any ? tf.tensor4d(m, [1, T, H, 1]) : null;
  }
  const T = shape[1]!;
  const m = new Float32Array(T);
  for (let t = 0; t < T; t++) if (qOk(t)) { m[t] = 1; any = true; }
  return any ? tf.tensor3d(m, [1, T, 1]) : null;
}

// LIMITATION: masking every visible key of a score row leaves a row of equal scores, whose softmax is
// uniform over all keys, future ones included (PyTorch computes the same); mask fewer keys or edit the pattern.
/** Applies one edit where the mask is 1. `mean` is the reference mean (trailing dims of x). */
function applyEdit(e: Edit, x: tf.Tensor, m: tf.Tensor, mean: tf.Tensor | undefined): tf.Tensor {
  const value = typeof e.value === 'number' ? tf.scalar(e.value) : e.value ? tf.tensor1d(e.value) : undefined;
  const keep = tf.sub(1, m);
  let y: tf.Tensor;
  switch (e.op) {
    case 'scale': y = tf.mul(x, tf.add(1, tf.mul(m, (e.value as number) - 1))); break;
    case 'zero': y = tf.mul(x, keep); break;
    case 'mask': y = e.hook === 'scores' ? tf.add(tf.mul(x, keep), tf.mul(m, MASKED_SCORE)) : tf.mul(x, keep); break;
    case 'set': y = tf.add(tf.mul(x, keep), tf.mul(m, value!)); break;
    case 'add': y = tf.add(x, tf.mul(m, value!)); break;
    case 'mean': y = tf.add(tf.mul(x, keep), tf.mul(m, mean!)); break;
  }
  if (e.renormalize) {
    const rows = tf.max(m, -1, true); // [1, H, T, 1]: rows that this edit touched
    const sum = tf.maximum(tf.sum(y, -1, true), 1e-30);
    y = tf.add(tf.mul(y, tf.sub(1, rows)), tf.mul(rows, tf.div(y, sum)));
  }
  return y;
}

/** Mean activation over every token of the reference prompts: [C], [M] or [H, D]. */
async function referenceMeans(model: Model, names: string[], ref: ReferenceSet): Promise<Map<string, tf.Tensor>> {
  const rows = [...(ref.ids ?? []), ...(ref.prompts ?? []).map((p) => model.encode(p))];
  const sums = new Map<string, tf.Tensor>();
  let count = 0;
  for (const ids of rows) {
    const r = model.run([ids], { cache: names, logits: 'none' });
    for (const n of names) {
      const t = r.cache[n]!;
      const s = tf.tidy(() => tf.sum(t, [0, 1]));
      const prev = sums.get(n);
      sums.set(n, prev ? tf.tidy(() => tf.add(prev, s)) : s);
      if (prev) { prev.dispose(); s.dispose(); }
      t.dispose();
    }
    count += ids.length;
  }
  const out = new Map<string, tf.Tensor>();
  for (const [n, s] of sums) {
    out.set(n, tf.tidy(() => tf.div(s, count)));
    s.dispose();
  }
  return out;
}

/** Compiles a validated spec for a prompt of `promptLength` tokens (negative positions resolve against it). */
export async function compileIntervention(model: Model, spec: InterventionSpec, promptLength: number): Promise<CompiledIntervention> {
  const c = model.config;
  const hooks: Record<string, HookFn[]> = {};
  const targets: string[] = [];
  const owned: tf.Tensor[] = [];
  try {
    for (let i = 0; i < spec.edits.length; i++) {
      const e = spec.edits[i]!;
      const path = `spec.edits[${i}]`;
      const r: Resolved = {
        edit: e,
        positions: resolvePositions(e.positions, promptLength, `${path}.positions`),
        keys: resolvePositions(e.keys, promptLength, `${path}.keys`),
        heads: e.heads ? new Set(e.heads) : null,
      };
      const layers = e.layers ?? Array.from({ length: c.nLayers }, (_, l) => l);
      const names = layers.map((l) => `blocks.${l}.${EDIT_HOOKS[e.hook]}`);
      const means = e.op === 'mean' ? await referenceMeans(model, names, (e.reference ?? spec.reference)!) : new Map<string, tf.Tensor>();
      owned.push(...means.values());
      for (const name of names) {
        const mean = means.get(name);
        const fn: HookFn = (x: tf.Tensor, ctx: HookContext) => tf.tidy(() => {
          const m = editMask(r, x.shape, ctx.posOffset, c.slidingWindow);
          return m ? applyEdit(e, x, m, mean) : x;
        });
        (hooks[name] ??= []).push(fn);
        if (!targets.includes(name)) targets.push(name);
      }
    }
  } catch (err) {
    for (const t of owned) t.dispose();
    throw err;
  }
  return { spec, hooks, targets, dispose: () => owned.forEach((t) => t.dispose()) };
}
