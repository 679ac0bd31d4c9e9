/**
 * Loss and gradients of one batch, optionally in micro-batches of fewer rows whose gradients are
 * summed (each micro-batch's loss is divided by the whole batch's target count, so the sum is the
 * full-batch gradient). Smaller micro-batches lower peak memory (the tape holds every activation
 * of a pass) at the same effective batch. B = rows, T = positions.
 * Non-goals: the optimizer update (trainer.ts) and clipping (clip.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../formats/config.js';
import { runForward } from '../model/forward.js';
import type { TokenBatch } from './data.js';
import { maskedCrossEntropy } from './loss.js';
import type { Trainable } from './trainable.js';

/** The caller owns the returned tensors. With `micro` = batch rows this is one plain pass. */
export function batchGradients(c: ModelConfig, tr: Trainable, batch: TokenBatch, micro: number): { loss: tf.Scalar; grads: Record<string, tf.Tensor> } {
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
      const { value, grads: g } = tf.variableGrads(() => maskedCrossEntropy(runForward(c, tr.params, { ids }).logits!, targets, mask, batch.count), vars);
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
