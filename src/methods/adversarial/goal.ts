/**
 * The attacker's goal as numbers: a loss to lower, the goal probability and success, for batches
 * of candidate inputs (log-probabilities only at the needed positions, never [B, T, V] logits),
 * and the gradient of the loss w.r.t. the input token embeddings.
 *
 * targeted: loss = -sum_i log p(target_i | ids, target_<i) (teacher forcing), success = greedy
 * decoding reproduces the whole target. untargeted: loss = log p(answer | ids) at the last
 * position, success = top-1 != answer. Non-goals: the searches, sampling-based success.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradients } from '../../engine/gradients.js';
import { generate } from '../../model/generate.js';
import type { Model } from '../../model/model.js';
import { positionLogProbs } from '../attribution/objective.js';
import { rowsPerBatch } from '../attribution/memory.js';
import type { AttackInput } from './types.js';

export type ResolvedGoal = { kind: 'targeted'; target: number[] } | { kind: 'untargeted'; answer: number };

export interface Scored {
  /** Goal loss; lower is better for the attacker. */
  loss: number;
  /** targeted: p(whole target); untargeted: p(answer). */
  prob: number;
  success: boolean;
}

export class GoalScorer {
  constructor(
    readonly model: Model,
    readonly goal: ResolvedGoal,
    private readonly memoryMB: number,
  ) {}

  /** Token ids fed to the model for a prompt: the prompt plus the target but its last token. */
  private input(ids: readonly number[]): number[] {
    return this.goal.kind === 'targeted' ? [...ids, ...this.goal.target.slice(0, -1)] : [...ids];
  }

  /** Positions whose next-token distribution the goal reads, for a prompt of length T. */
  private positions(T: number): number[] {
    return this.goal.kind === 'targeted' ? this.goal.target.map((_, i) => T - 1 + i) : [T - 1];
  }

  /** Target ids at those positions. */
  private targets(): number[] {
    return this.goal.kind === 'targeted' ? this.goal.target : [this.goal.answer];
  }

  /** Picked log-probs [n, G] and argmax ids [n, G] for embedding rows [n, T', C]. */
  private picked(embeds: tf.Tensor3D, T: number): { lp: tf.Tensor2D; top: tf.Tensor2D } {
    const V = this.model.config.vocabSize;
    const lp = positionLogProbs(this.model, embeds, this.positions(T)); // [n, G, V]
    const onehot = tf.oneHot(tf.tensor1d(this.targets(), 'int32'), V); // [G, V]
    return { lp: tf.sum(tf.mul(lp, onehot), -1) as tf.Tensor2D, top: tf.argMax(lp, -1) as tf.Tensor2D };
  }

  private scored(lpRow: ArrayLike<number>, topRow: ArrayLike<number>): Scored {
    if (this.goal.kind === 'targeted') {
      let s = 0;
      let ok = true;
      for (let g = 0; g < this.goal.target.length; g++) {
        s += lpRow[g]!;
        if (topRow[g] !== this.goal.target[g]) ok = false;
      }
      return { loss: -s, prob: Math.exp(s), success: ok };
    }
    return { loss: lpRow[0]!, prob: Math.exp(lpRow[0]!), success: topRow[0] !== this.goal.answer };
  }

  /** Rows per forward under the memory budget, for prompts of length T. */
  chunkRows(T: number, rows: number): number {
    const G = this.positions(T).length;
    return rowsPerBatch(this.model.config, this.input(new Array<number>(T).fill(0)).length, G, rows, this.memoryMB, false);
  }

  // LIMITATION: success is the argmax of one full forward per candidate (teacher forcing), not a
  // KV-cache decode: on an exact tie between two tokens the two can disagree.
  /** Scores equal-length prompts in batched forwards (chunked only to respect memory). */
  async evaluate(rows: readonly (readonly number[])[]): Promise<Scored[]> {
    if (rows.length === 0) return [];
    const T = rows[0]!.length;
    const G = this.positions(T).length;
    const chunk = this.chunkRows(T, rows.length);
    const out: Scored[] = [];
    for (let s = 0; s < rows.length; s += chunk) {
      const part = rows.slice(s, s + chunk).map((r) => this.input(r));
      const r = tf.tidy(() => {
        const ids = tf.tensor2d(part.flat(), [part.length, part[0]!.length], 'int32'); // [n, T']
        const embeds = tf.gather(this.model.params.wte, ids) as unknown as tf.Tensor3D; // [n, T', C]
        return this.picked(embeds, T) as unknown as tf.TensorContainer;
      }) as unknown as { lp: tf.Tensor2D; top: tf.Tensor2D };
      try {
        const lp = (await r.lp.data()) as Float32Array;
        const top = (await r.top.data()) as Int32Array;
        for (let i = 0; i < part.length; i++) out.push(this.scored(lp.subarray(i * G, (i + 1) * G), top.subarray(i * G, (i + 1) * G)));
      } finally {
        r.lp.dispose();
        r.top.dispose();
      }
    }
    return out;
  }

  /** Goal loss at `ids` and its gradient w.r.t. the prompt's token embeddings, host [T * C]. */
  async lossAndGrad(ids: readonly number[]): Promise<{ loss: number; grad: Float32Array }> {
    registerGradients();
    const T = ids.length;
    const C = this.model.config.dModel;
    const full = this.input(ids);
    const r = tf.tidy(() => {
      const x = tf.gather(this.model.params.wte, tf.tensor2d(full, [1, full.length], 'int32')) as unknown as tf.Tensor3D; // [1, T', C]
      const f = (e: tf.Tensor) => {
        const lp = tf.sum(this.picked(e as tf.Tensor3D, T).lp); // scalar: sum_g log p
        return this.goal.kind === 'targeted' ? tf.neg(lp) : lp;
      };
      const { value, grad } = tf.valueAndGrad(f)(x);
      return { value, grad: tf.slice(grad, [0, 0, 0], [1, T, C]) } as unknown as tf.TensorContainer;
    }) as unknown as { value: tf.Scalar; grad: tf.Tensor3D };
    try {
      const loss = (await r.value.data())[0]!;
      return { loss, grad: (await r.grad.data()) as Float32Array };
    } finally {
      r.value.dispose();
      r.grad.dispose();
    }
  }

  /** An input with its greedy prediction (as long as the target, or one token) and goal probability. */
  async describe(ids: readonly number[], scored?: Scored): Promise<AttackInput> {
    const n = this.goal.kind === 'targeted' ? this.goal.target.length : 1;
    const s = scored ?? (await this.evaluate([ids]))[0]!;
    const gen = await generate(this.model, ids, { maxNewTokens: n, stopAtEos: false });
    return { ids: [...ids], text: this.model.decode(ids), predictionIds: gen.generated, prediction: this.model.decode(gen.generated), prob: s.prob };
  }
}
