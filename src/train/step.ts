/**
 * Loss and gradients of one batch, optionally in micro-batches of fewer rows whose gradients are
 * summed (each micro-batch's loss is divided by the whole batch's target count, so the sum is the
 * full-batch gradient). Smaller micro-batches lower peak memory (the tape holds every activation
 * of a pass) at the same effective batch. B = rows, T = positions. An optional `LossHook`
 * replaces the loss of each micro-batch (adversarial training, src/train/adversarial).
 * Non-goals: the optimizer update (trainer.ts) and clipping (clip.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../formats/config.js';
import { runForward } from '../model/forward.js';
import type { Params } from '../model/params.js';
import type { TokenBatch } from './data.js';
import { maskedCrossEntropy } from './loss.js';
import type { Trainable } from './trainable.js';

/** One micro-batch on the device: ids, targets, mask [B, T] and the whole batch's target count. */
export interface MicroBatch {
  ids: tf.Tensor2D;
  targets: tf.Tensor2D;
  mask: tf.Tensor2D;
  count: number;
}

/**
 * Replaces the plain masked cross-entropy of each micro-batch. `prepare` runs outside the
 * parameters' gradient tape (it may take gradients of its own, e.g. with respect to the input
 * embeddings, which then stay constants) and returns the loss as a function taken on the tape.
 */
export interface LossHook {
  /** Provenance for the trainer's result `info`. */
  describe(): Record<string, unknown>;
  prepare(c: ModelConfig, params: Params, rows: MicroBatch): () => tf.Scalar;
}

/** The caller owns the returned tensors. With `micro` = batch rows this is one plain pass. */
export function batchGradients(c: ModelConfig, tr: Trainable, batch: TokenBatch, micro: number, hook?: LossHook): { loss: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const { batchSize: B, seqLen: T } = batch;
  const vars = [...tr.vars.values()];
  let grads: Record<string, tf.Tensor> = {};
  let loss: tf.Scalar | null = null;
  for (let r0 = 0; r0 < B; r0 += micro) {
    const rows = Math.min(micro, B - r0);
    const span = [r0 * T, (r0 + rows) * T] as const;
    const next = tf.tidy(() => {
      const ids = tf.tensor2d(batch.ids.subarray(...span), [rows, T], 'int32');
      const targets = tf.tensor2d(batch.targets.subarray(...span), [rows, T], 'int32');
      const mask = tf.tensor2d(batch.mask.subarray(...span), [rows, T], 'float32');
      const lossOf = hook ? hook.prepare(c, tr.params, { ids, targets, mask, count: batch.count }) : () => maskedCrossEntropy(runForward(c, tr.params, { ids }).logits!, targets, mask, batch.count);
      const { value, grads: g } = tf.variableGrads(lossOf, vars);
      const out: Record<string, tf.Tensor> = {};
      for (const [vn, t] of Object.entries(g)) {
        const name = tr.byVarName.get(vn)!;
        out[name] = grads[name] ? tf.add(grads[name]!, t) : t;
      }
      return { loss: loss ? tf.add(loss, value) : value, grads: out } as unknown as tf.TensorContainer;
    }) as unknown as { loss: tf.Scalar; grads: Record<string, tf.Tensor> };
    if (loss) loss.dispose();
    tf.dispose(Object.values(grads));
    loss = next.loss;
    grads = next.grads;
  }
  return { loss: loss!, grads };
}
