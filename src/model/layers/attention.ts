/**
 * Causal self-attention with grouped-query heads, a KV cache and hook points on every stage.
 *
 * B = batch, T = new positions, S = key positions (past + T), H = query heads, K = kv heads,
 * G = H / K query heads per kv head, D = head dim. Query head h reads kv head floor(h / G), as
 * Hugging Face's repeat_kv does; keys are never repeated in memory: queries are grouped instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../../formats/config.js';
import type { LayerParams } from '../params.js';
import type { HookEvent, Visit } from '../visit.js';
import { applyRope } from './rope.js';
import { linear } from '../../engine/fused.js';

/** The float32 minimum that masked scores hold (Hugging Face's finfo.min convention). */
export const MASKED_SCORE = -3.4028234663852886e38;

export interface LayerKV {
  k: tf.Tensor4D; // [B, K, S, D], after rotary
  v: tf.Tensor4D; // [B, K, S, D]
}

/** Keep-mask and fill for queries at [offset, offset + T) over keys [0, S): both [T, S]. */
export function causalMask(T: number, S: number, offset: number, window: number | null): { keep: tf.Tensor2D; fill: tf.Tensor2D } {
  const keep = new Float32Array(T * S);
  const fill = new Float32Array(T * S);
  for (let t = 0; t < T; t++) {
    const q = offset + t;
    for (let s = 0; s < S; s++) {
      const visible = s <= q && (window === null || q - s < window);
      keep[t * S + s] = visible ? 1 : 0;
      fill[t * S + s] = visible ? 0 : MASKED_SCORE;
    }
  }
  return { keep: tf.tensor2d(keep, [T, S]), fill: tf.tensor2d(fill, [T, S]) };
}

export interface AttentionInput {
  c: ModelConfig;
  p: LayerParams;
  h: tf.Tensor3D; // [B, T, C], the normalised residual
  past?: LayerKV;
  rope?: { cos: tf.Tensor2D; sin: tf.Tensor2D };
  offset: number;
  visit: Visit;
  /**
   * Queries only from this position on (default 0): keys and values still cover every position,
   * but scores, pattern, z and the output have T - queryFrom rows. For the last block when only
   * late positions' outputs are needed (forward.ts `outputsFrom`).
   */
  queryFrom?: number;
}

export function* attention(a: AttentionInput): Generator<HookEvent, { out: tf.Tensor3D; kv: LayerKV }, tf.Tensor | void> {
  const { c, p, visit } = a;
  const [B, T] = a.h.shape;
  const H = c.nHeads, K = c.nKvHeads, D = c.dHead, G = H / K;

  // 1) projections: one product for q, k and v
  const h2 = tf.reshape(a.h, [B * T, c.dModel]);
  const qkv = linear(h2, p.wQKV, p.bQKV); // [B T, (H + 2K) D]
  const [qf, kf, vf] = tf.split(qkv, [H * D, K * D, K * D], 1);
  let q = (yield* visit('attn.hook_q', tf.reshape(qf!, [B, T, H, D]))) as tf.Tensor4D;
  let k = (yield* visit('attn.hook_k', tf.reshape(kf!, [B, T, K, D]))) as tf.Tensor4D;
  const v = (yield* visit('attn.hook_v', tf.reshape(vf!, [B, T, K, D]))) as tf.Tensor4D;

  // 2) rotary positions
  if (a.rope) {
    q = (yield* visit('attn.hook_rot_q', applyRope(q, a.rope.cos, a.rope.sin))) as tf.Tensor4D;
    k = (yield* visit('attn.hook_rot_k', applyRope(k, a.rope.cos, a.rope.sin))) as tf.Tensor4D;
  }

  // 3) append to the cache: [B, K, S, D]
  // LIMITATION: the cache grows by concat, so every decode step copies it into fresh arrays of a
  // new length, which the native backend's pool cannot recycle within one generation (recycling
  // them across repeated generations was worth ~5% of decode tok/s, bench/README.md); a
  // preallocated cache written in place would avoid both the copies and the allocations.
  let kAll = tf.transpose(k, [0, 2, 1, 3]) as tf.Tensor4D;
  let vAll = tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D;
  if (a.past) {
    kAll = tf.concat([a.past.k, kAll], 2);
    vAll = tf.concat([a.past.v, vAll], 2);
  }
  const S = kAll.shape[2];

  // 4) scores: group the G query heads of each kv head so keys are used as stored
  const q0 = a.queryFrom ?? 0;
  const Tq = T - q0; // query rows
  if (q0 > 0) q = tf.slice(q, [0, q0, 0, 0], [B, Tq, H, D]);
  const qg = tf.reshape(tf.transpose(q, [0, 2, 1, 3]), [B, K, G * Tq, D]); // [B, K, G Tq, D]
  const raw = tf.matMul(qg, kAll, false, true); // [B, K, G Tq, S]
  const scaled = tf.mul(tf.reshape(raw, [B, H, Tq, S]), 1 / Math.sqrt(D));
  const mask = causalMask(Tq, S, a.offset + q0, c.slidingWindow);
  const masked = tf.add(tf.mul(scaled, mask.keep), mask.fill); // [B, H, Tq, S]
  const scores = yield* visit('attn.hook_attn_scores', masked);
  const pattern = yield* visit('attn.hook_pattern', tf.softmax(scores, -1));

  // 5) weighted values per head
  const pg = tf.reshape(pattern, [B, K, G * Tq, S]);
  const zg = tf.matMul(pg, vAll); // [B, K, G Tq, D]
  const zHeads = tf.transpose(tf.reshape(zg, [B, H, Tq, D]), [0, 2, 1, 3]); // [B, Tq, H, D]
  const z = yield* visit('attn.hook_z', zHeads);

  // 6) output projection
  const out = linear(tf.reshape(z, [B * Tq, H * D]), p.wO, p.bO); // [B Tq, C]
  return { out: tf.reshape(out, [B, Tq, c.dModel]) as tf.Tensor3D, kv: { k: kAll, v: vAll } };
}
