/**
 * Embedding-space adversarial training: perturb each input token's embedding row along the
 * gradient of the loss (FGM for one step, PGD with per-token L2 projection for more), then train
 * on a mix of the clean and the perturbed loss. The radius is `epsilon` times the mean L2 norm of
 * the token-embedding rows, per token. B = rows, T = positions, C = d_model, V = vocabulary.
 * Non-goals: discrete attacks (src/methods/adversarial), random restarts, perturbing positions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { ModelConfig } from '../../formats/config.js';
import { runForward } from '../../model/forward.js';
import type { Params } from '../../model/params.js';
import { maskedCrossEntropy } from '../loss.js';
import type { LossHook, MicroBatch } from '../step.js';

export interface EmbeddingAdvOptions {
  /** Per-token radius, relative to the mean L2 norm of the token-embedding rows (e.g. 0.5). */
  epsilon: number;
  /** Ascent steps: 1 = fast gradient method (one step of the full radius), more = PGD. */
  steps: number;
  /** PGD step length relative to the radius (default 1 for one step, else 2.5 / steps, as Madry et al.). */
  stepSize?: number;
  /** Weight w of the perturbed loss: loss = (1 - w) clean + w perturbed (default 0.5). */
  weight?: number;
}

export function checkEmbeddingOptions(o: EmbeddingAdvOptions): Required<EmbeddingAdvOptions> {
  const stepSize = o.stepSize ?? (o.steps === 1 ? 1 : 2.5 / o.steps);
  const weight = o.weight ?? 0.5;
  if (!(Number.isFinite(o.epsilon) && o.epsilon >= 0)) throw new LlmdbgError('invalid_argument', `embedding perturbation: epsilon = ${o.epsilon} must be a number >= 0`, { hint: 'epsilon is relative to the mean embedding-row norm, e.g. 0.5' });
  if (!Number.isSafeInteger(o.steps) || o.steps < 1 || o.steps > 100) throw new LlmdbgError('invalid_argument', `embedding perturbation: steps = ${o.steps} must be an integer from 1 to 100`);
  if (!(stepSize > 0 && Number.isFinite(stepSize))) throw new LlmdbgError('invalid_argument', `embedding perturbation: stepSize = ${stepSize} must be > 0`);
  if (!(weight >= 0 && weight <= 1)) throw new LlmdbgError('invalid_argument', `embedding perturbation: weight = ${weight} must be in [0, 1]`);
  return { epsilon: o.epsilon, steps: o.steps, stepSize, weight };
}

/** Token-embedding rows of `ids` [B, T] -> [B, T, C] (before positions are added). */
export function tokenEmbeds(params: Params, ids: tf.Tensor2D): tf.Tensor3D {
  return tf.gather(params.wte, ids) as unknown as tf.Tensor3D;
}

/** Mean L2 norm of the rows of the token-embedding table (a scalar tensor). */
export function embedScale(params: Params): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sqrt(tf.sum(tf.square(params.wte), -1))) as tf.Scalar);
}

/** Masked cross-entropy of the model run on the given token-embedding rows. */
export function lossOnEmbeds(c: ModelConfig, params: Params, embeds: tf.Tensor3D, rows: MicroBatch): tf.Scalar {
  return maskedCrossEntropy(runForward(c, params, { embeds }).logits!, rows.targets, rows.mask, rows.count);
}

/** Each [.., C] row scaled to unit L2 norm (zero rows stay zero). */
function unitRows(g: tf.Tensor3D): tf.Tensor3D {
  const n = tf.sqrt(tf.sum(tf.square(g), -1, true)); // [B, T, 1]
  return tf.div(g, tf.add(n, 1e-30)) as tf.Tensor3D;
}

/** Rows longer than `radius` shrunk onto the ball. */
function projectRows(d: tf.Tensor3D, radius: tf.Scalar): tf.Tensor3D {
  const n = tf.sqrt(tf.sum(tf.square(d), -1, true)); // [B, T, 1]
  return tf.mul(d, tf.minimum(1, tf.div(radius, tf.add(n, 1e-30)))) as tf.Tensor3D;
}

/**
 * The adversarial perturbation of the token embeddings (a constant: no gradient flows into it).
 * Step k: delta <- project(delta + alpha * g_k / |g_k|) per token, alpha = stepSize * radius,
 * radius = epsilon * embedScale; with one step this is radius * g / |g| per token, which raises
 * the loss by radius * sum_t |g_t| to first order. Positions whose gradient is zero stay put.
 */
export function embeddingPerturbation(c: ModelConfig, params: Params, rows: MicroBatch, opts: EmbeddingAdvOptions): tf.Tensor3D {
  const o = checkEmbeddingOptions(opts);
  return tf.tidy(() => {
    const e = tokenEmbeds(params, rows.ids); // [B, T, C]
    const radius = tf.mul(embedScale(params), o.epsilon) as tf.Scalar;
    const alpha = tf.mul(radius, o.stepSize) as tf.Scalar;
    let delta = tf.zerosLike(e) as tf.Tensor3D;
    if (o.epsilon === 0) return delta;
    const gradOf = tf.grad((d: tf.Tensor) => lossOnEmbeds(c, params, tf.add(e, d) as tf.Tensor3D, rows));
    for (let k = 0; k < o.steps; k++) {
      const g = gradOf(delta) as tf.Tensor3D;
      delta = projectRows(tf.add(delta, tf.mul(unitRows(g), alpha)) as tf.Tensor3D, radius);
    }
    return delta;
  });
}

/** The trainer hook: loss = (1 - w) * clean + w * perturbed, both in one forward pass of 2B rows. */
export function embeddingAdversarialHook(opts: EmbeddingAdvOptions): LossHook {
  const o = checkEmbeddingOptions(opts);
  return {
    describe: () => ({ kind: 'embedding-pgd', ...o, radius: 'epsilon x mean token-embedding row norm, per token' }),
    prepare(c, params, rows) {
      const delta = embeddingPerturbation(c, params, rows, o); // kept by the caller's tidy
      const both: MicroBatch = {
        ids: rows.ids,
        targets: tf.concat([rows.targets, rows.targets], 0) as tf.Tensor2D,
        mask: tf.concat([tf.mul(rows.mask, 1 - o.weight), tf.mul(rows.mask, o.weight)], 0) as tf.Tensor2D,
        count: rows.count,
      };
      return () => {
        const e = tokenEmbeds(params, rows.ids); // on the tape: gradients reach the embedding table
        const embeds = tf.concat([e, tf.add(e, delta)], 0) as tf.Tensor3D; // [2B, T, C]
        return lossOnEmbeds(c, params, embeds, both);
      };
    },
  };
}
