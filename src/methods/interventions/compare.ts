/**
 * Clean versus edited run of one prompt: the top next tokens with probabilities, the target
 * token's logit (and logit difference to a foil), KL(clean || edited) at the last position, and
 * both greedy continuations. What `llmdbg intervene` prints. Non-goal: sweeps over many edits
 * (see patching/).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../model/model.js';
import { generate } from '../../model/generate.js';
import type { CompiledIntervention } from './apply.js';

export interface TokenProb {
  id: number;
  token: string;
  logit: number;
  prob: number;
}

export interface InterventionComparison {
  ids: number[];
  clean: { top: TokenProb[]; continuation: number[]; text: string | null };
  edited: { top: TokenProb[]; continuation: number[]; text: string | null };
  target: { id: number; token: string; cleanLogit: number; editedLogit: number; logitDelta: number; cleanProb: number; editedProb: number };
  foil: { id: number; token: string; cleanLogitDiff: number; editedLogitDiff: number } | null;
  /** KL(clean || edited) of the next-token distributions, in nats. */
  kl: number;
  /** Largest |edited - clean| logit at the last position. */
  maxAbsLogitChange: number;
  info: { method: 'intervene'; spec: string | null; edits: number; targets: string[]; topK: number; maxNewTokens: number; durationMs: number };
}

export interface CompareOptions {
  topK?: number;
  /** Token whose logit is tracked; default the clean run's top token. */
  target?: number;
  /** Optional contrast token: reports logit(target) - logit(foil) in both runs. */
  foil?: number;
  maxNewTokens?: number;
}

/** Log-softmax in float64. */
export function logSoftmax(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i]! - lse;
  return out;
}

/** KL(p || q) from log-probabilities, in nats. */
export function klDivergence(logp: Float64Array, logq: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logp.length; i++) {
    const p = Math.exp(logp[i]!);
    if (p > 0) kl += p * (logp[i]! - logq[i]!);
  }
  return Math.max(0, kl);
}

export function topTokens(model: Model, logits: ArrayLike<number>, k: number): TokenProb[] {
  const lp = logSoftmax(logits);
  const idx = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, k);
  const pieces = model.tokenPieces(idx);
  return idx.map((id, i) => ({ id, token: pieces[i]!, logit: logits[id]!, prob: Math.exp(lp[id]!) }));
}

/** Last-position logits [V] of one prompt, with optional hooks. */
export async function lastLogits(model: Model, ids: readonly number[], hooks?: CompiledIntervention['hooks']): Promise<Float32Array> {
  const out = tf.tidy(() => model.forward({ ids: model.idsTensor([ids]) }, { logits: 'last', ...(hooks ? { hooks } : {}) }).logits!);
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}

export async function compareIntervention(model: Model, ids: readonly number[], iv: CompiledIntervention, o: CompareOptions = {}): Promise<InterventionComparison> {
  const t0 = performance.now();
  const topK = o.topK ?? 10;
  const maxNew = o.maxNewTokens ?? 10;
  model.checkIds(ids, maxNew);
  const clean = await lastLogits(model, ids);
  const edited = await lastLogits(model, ids, iv.hooks);
  const lpC = logSoftmax(clean);
  const lpE = logSoftmax(edited);
  const target = o.target ?? topTokens(model, clean, 1)[0]!.id;
  let maxAbs = 0;
  for (let i = 0; i < clean.length; i++) maxAbs = Math.max(maxAbs, Math.abs(edited[i]! - clean[i]!));
  const genC = maxNew > 0 ? await generate(model, ids, { maxNewTokens: maxNew, stopAtEos: false }) : { generated: [] as number[] };
  const genE = maxNew > 0 ? await generate(model, ids, { maxNewTokens: maxNew, stopAtEos: false, hooks: iv.hooks }) : { generated: [] as number[] };
  const text = (g: number[]) => (model.tokenizer ? model.decode(g) : null);
  const piece = (id: number) => model.tokenPieces([id])[0]!;
  return {
    ids: [...ids],
    clean: { top: topTokens(model, clean, topK), continuation: genC.generated, text: text(genC.generated) },
    edited: { top: topTokens(model, edited, topK), continuation: genE.generated, text: text(genE.generated) },
    target: {
      id: target, token: piece(target), cleanLogit: clean[target]!, editedLogit: edited[target]!, logitDelta: edited[target]! - clean[target]!,
      cleanProb: Math.exp(lpC[target]!), editedProb: Math.exp(lpE[target]!),
    },
    foil: o.foil === undefined ? null : {
      id: o.foil, token: piece(o.foil), cleanLogitDiff: clean[target]! - clean[o.foil]!, editedLogitDiff: edited[target]! - edited[o.foil]!,
    },
    kl: klDivergence(lpC, lpE),
    maxAbsLogitChange: maxAbs,
    info: { method: 'intervene', spec: iv.spec.name ?? null, edits: iv.spec.edits.length, targets: iv.targets, topK, maxNewTokens: maxNew, durationMs: Math.round(performance.now() - t0) },
  };
}
