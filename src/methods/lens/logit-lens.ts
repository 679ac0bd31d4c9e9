/**
 * Logit lens: the residual stream entering every layer, and leaving the last one, read through
 * the final norm and the unembedding, as if the model stopped there. Gives the top tokens per
 * layer and position and a target token's rank and probability across layers; the last stage is
 * exactly the model's output. Non-goal: tuned lenses (learned per-layer translators).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';
import { norm } from '../../model/layers/norm.js';
import { logSoftmax } from '../interventions/compare.js';

export interface LensToken {
  id: number;
  token: string;
  prob: number;
}

export interface LogitLensOptions {
  topK?: number;
  /** Token tracked across layers; default the model's top token at the last position. */
  target?: number;
  /** Keep the raw lens logits [stage][pos] of length V (large for big vocabularies). */
  keepLogits?: boolean;
}

export interface LogitLensResult {
  ids: number[];
  tokens: string[];
  /** One stage per layer input (`blocks.L.hook_resid_pre`) plus the last layer's output. */
  stages: { hook: string; label: string }[];
  /** Top tokens per [stage][pos]. */
  top: LensToken[][][];
  target: { id: number; token: string; rank: number[][]; prob: number[][] };
  logits?: Float32Array[][];
  info: { method: 'logit_lens'; topK: number; stages: number; durationMs: number; model: { dir: string; fingerprint: string } };
}

/** The final norm and unembedding applied to residual rows [N, C] -> logits [N, V]. */
export function unembedResidual(model: Model, x: tf.Tensor2D): tf.Tensor2D {
  const c = model.config;
  const p = model.params;
  return tf.tidy(() => {
    const h = norm(c.norm, x, p.lnF, c.normEps) as tf.Tensor2D;
    let l: tf.Tensor2D = tf.matMul(h, p.wU, false, true); // [N, V]
    if (p.bU) l = tf.add(l, p.bU) as tf.Tensor2D;
    return l;
  });
}

export async function logitLens(model: Model, ids: readonly number[], o: LogitLensOptions = {}): Promise<LogitLensResult> {
  const t0 = performance.now();
  model.checkIds(ids);
  const c = model.config;
  const T = ids.length;
  const V = c.vocabSize;
  const topK = Math.max(1, Math.min(o.topK ?? 5, V));
  const hooks = [...Array.from({ length: c.nLayers }, (_, l) => `blocks.${l}.hook_resid_pre`), `blocks.${c.nLayers - 1}.hook_resid_post`];
  const S = hooks.length;
  const r = model.run([ids], { cache: hooks, logits: 'none' });
  const logitsT = tf.tidy(() => {
    const stacked = tf.concat(hooks.map((h) => tf.reshape(r.cache[h]!, [T, c.dModel])), 0) as tf.Tensor2D; // [S T, C]
    return unembedResidual(model, stacked); // [S T, V]
  });
  for (const t of Object.values(r.cache)) t.dispose();
  const all = (await logitsT.data()) as Float32Array;
  logitsT.dispose();

  const lastRow = all.subarray(((S - 1) * T + T - 1) * V, ((S - 1) * T + T) * V);
  const target = o.target ?? lastRow.reduce((b, x, i, a) => (x > a[b]! ? i : b), 0);
  const top: LensToken[][][] = [];
  const rank: number[][] = [];
  const prob: number[][] = [];
  const keep: Float32Array[][] = [];
  const ids2pieces = new Map<number, string>();
  const piece = (id: number) => {
    if (!ids2pieces.has(id)) ids2pieces.set(id, model.tokenPieces([id])[0]!);
    return ids2pieces.get(id)!;
  };
  for (let s = 0; s < S; s++) {
    top.push([]); rank.push([]); prob.push([]); keep.push([]);
    for (let t = 0; t < T; t++) {
      const row = all.subarray((s * T + t) * V, (s * T + t + 1) * V);
      const lp = logSoftmax(row);
      const best = Array.from({ length: V }, (_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b).slice(0, topK);
      top[s]!.push(best.map((id) => ({ id, token: piece(id), prob: Math.exp(lp[id]!) })));
      let above = 0;
      for (let i = 0; i < V; i++) if (row[i]! > row[target]!) above++;
      rank[s]!.push(above + 1);
      prob[s]!.push(Math.exp(lp[target]!));
      if (o.keepLogits) keep[s]!.push(row.slice());
    }
  }
  return {
    ids: [...ids], tokens: model.tokenPieces(ids),
    stages: hooks.map((h, s) => ({ hook: h, label: s < c.nLayers ? `L${s} in` : `L${c.nLayers - 1} out` })),
    top, target: { id: target, token: piece(target), rank, prob },
    ...(o.keepLogits ? { logits: keep } : {}),
    info: { method: 'logit_lens', topK, stages: S, durationMs: Math.round(performance.now() - t0), model: { dir: model.source.dir, fingerprint: model.source.fingerprint } },
  };
}
