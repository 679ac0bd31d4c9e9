/**
 * What is attributed: log-probabilities of target tokens at chosen positions, optionally minus a
 * foil's (contrastive), computed differentiably from input embeddings. Also target helpers: the
 * model's own top prediction, and text that must be exactly one token.
 *
 * Only the rows that are needed go through the unembedding (never the full [T, V] logits).
 * Non-goals: losses over many positions (see ../gradients for cross-entropy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';

/** G objective terms: term g is log p(targets[g] | position positions[g]) - log p(foils[g]). */
export interface Objective {
  positions: number[];
  targets: number[];
  foils: (number | null)[];
}

const FINAL = 'ln_final.hook_normalized';

/** Log-probabilities [n, G, V] of the objective's positions for embedding rows [n, T, C]. */
export function positionLogProbs(model: Model, embeds: tf.Tensor3D, positions: readonly number[]): tf.Tensor3D {
  const [n] = embeds.shape;
  const C = model.config.dModel;
  // The last block and ln_final run only from the earliest objective position on (forward.ts).
  const from = Math.min(...positions);
  const out = model.forward({ embeds, outputsFrom: from }, { logits: 'none', cache: [FINAL] });
  const final = out.cache[FINAL]! as tf.Tensor3D; // [n, T - from, C]
  const rows = tf.gather(final, tf.tensor1d(positions.map((q) => q - from), 'int32'), 1); // [n, G, C]
  const G = positions.length;
  const flat = tf.reshape(rows, [n * G, C]);
  const p = model.params;
  let logits = p.wUT ? tf.matMul(flat, p.wUT) : tf.matMul(flat, p.wU, false, true); // [n G, V], as forward.ts
  if (p.bU) logits = tf.add(logits, p.bU);
  return tf.reshape(tf.logSoftmax(logits), [n, G, model.config.vocabSize]) as tf.Tensor3D;
}

/** Objective values [n, G] for embedding rows [n, T, C]; differentiable in `embeds`. */
export function objectiveValues(model: Model, embeds: tf.Tensor3D, obj: Objective): tf.Tensor2D {
  const V = model.config.vocabSize;
  const G = obj.positions.length;
  const lp = positionLogProbs(model, embeds, obj.positions); // [n, G, V]
  const pick = (ids: readonly number[]) => tf.oneHot(tf.tensor1d(ids as number[], 'int32'), V); // [G, V]
  let v = tf.sum(tf.mul(lp, pick(obj.targets)), -1); // [n, G]
  if (obj.foils.some((f) => f !== null)) {
    const foilIds = obj.foils.map((f, g) => f ?? obj.targets[g]!);
    const mask = tf.tensor1d(obj.foils.map((f) => (f === null ? 0 : 1)), 'float32'); // [G]
    v = tf.sub(v, tf.mul(tf.sum(tf.mul(lp, pick(foilIds)), -1), mask));
  }
  return tf.reshape(v, [embeds.shape[0], G]) as tf.Tensor2D;
}

/** Input embeddings [1, T, C]: token rows only, before positional embeddings. */
export function inputEmbeds(model: Model, ids: readonly number[]): tf.Tensor3D {
  return tf.tidy(() => tf.gather(model.params.wte, tf.tensor2d(ids as number[], [1, ids.length], 'int32')) as unknown as tf.Tensor3D);
}

export interface Prediction {
  id: number;
  logprob: number;
}

/** The model's top next-token prediction after `ids`, with its log-probability. */
export async function topPrediction(model: Model, ids: readonly number[]): Promise<Prediction> {
  const lp = tf.tidy(() => tf.reshape(positionLogProbs(model, inputEmbeds(model, ids), [ids.length - 1]), [-1]));
  const data = (await lp.data()) as Float32Array;
  lp.dispose();
  let best = 0;
  for (let i = 1; i < data.length; i++) if (data[i]! > data[best]!) best = i;
  return { id: best, logprob: data[best]! };
}

/** The id of a one-token text (no special tokens added); refuses text that is several tokens. */
export function singleToken(model: Model, text: string, flag: string): number {
  const ids = model.encode(text, { addSpecialTokens: false });
  if (ids.length !== 1) {
    const pieces = model.tokenPieces(ids).map((p) => JSON.stringify(p)).join(' ');
    throw new LlmdbgError('invalid_argument', `${flag} ${JSON.stringify(text)} is ${ids.length} tokens (${pieces || 'none'}), not one`, {
      hint: ids.length > 1 ? `give one token (mind the leading space, e.g. " Paris"), its id with ${flag}-id, or use --continuation for several tokens` : `give a non-empty ${flag}`,
      details: { text, ids },
    });
  }
  return ids[0]!;
}

/** Refuses ids outside the vocabulary. */
export function checkTokenId(model: Model, id: number, flag: string): void {
  const V = model.config.vocabSize;
  if (!Number.isInteger(id) || id < 0 || id >= V) {
    throw new LlmdbgError('token_out_of_range', `${flag} ${id} is outside the vocabulary [0, ${V})`, { hint: `give an id from 0 to ${V - 1}` });
  }
}
