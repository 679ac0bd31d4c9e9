/**
 * AdamW exactly as PyTorch 1.13 defines it (torch.optim.AdamW, single-tensor path): decoupled
 * weight decay p *= 1 - lr wd applied first, then m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). Moments live in tf variables;
 * parameters without a gradient in a step are skipped (as PyTorch skips grad = None).
 * Non-goals: amsgrad, maximize, per-group options beyond decay / no decay.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../errors.js';
import { FusedKernel, fusedAdamW, hasFused } from '../engine/fused.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

/** Host copy of the optimizer state, for checkpoints. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class AdamW {
  /** Updates applied so far (PyTorch's state['step']). */
  step = 0;
  readonly opts: AdamWOptions;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  /** `params`: trainable variables by name; `decay`: names that get weight decay. */
  constructor(private readonly params: ReadonlyMap<string, tf.Variable>, private readonly decay: ReadonlySet<string>, opts: Partial<AdamWOptions> = {}) {
    this.opts = { ...ADAMW_DEFAULTS, ...opts };
    const { beta1, beta2, eps, weightDecay } = this.opts;
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new LlmdbgError('invalid_argument', `AdamW betas (${beta1}, ${beta2}) must be in [0, 1)`);
    if (!(eps > 0) || !(weightDecay >= 0)) throw new LlmdbgError('invalid_argument', `AdamW eps = ${eps} must be > 0 and weight decay = ${weightDecay} >= 0`);
    // tf.variable shares the initial tensor's data; tidy drops the temporaries' own references.
    tf.tidy(() => {
      for (const [name, p] of params) {
        this.m.set(name, tf.variable(tf.zerosLike(p), false));
        this.v.set(name, tf.variable(tf.zerosLike(p), false));
      }
    });
  }

  /** One update at learning rate `lr` with (already clipped) gradients by parameter name. */
  update(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    this.step += 1;
    const { beta1, beta2, eps, weightDecay } = this.opts;
    const t = this.step;
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    const fused = hasFused(FusedKernel.AdamW);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads[name];
        if (!g) continue;
        const mv = this.m.get(name)!;
        const vv = this.v.get(name)!;
        if (fused) {
          // One kernel, the same float32 operations in the same order as below (bit for bit).
          const [np, nm, nv] = fusedAdamW(p, g, mv, vv, { decay: weightDecay > 0 && this.decay.has(name), c: 1 - lr * weightDecay, b1: beta1, omb1: 1 - beta1, b2: beta2, omb2: 1 - beta2, bc2: bc2Sqrt, eps, step: stepSize });
          p.assign(np);
          mv.assign(nm);
          vv.assign(nv);
          continue;
        }
        const decayed = weightDecay > 0 && this.decay.has(name) ? tf.mul(p, 1 - lr * weightDecay) : p;
        const m = tf.add(tf.mul(mv, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(vv, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
        mv.assign(m);
        vv.assign(v);
      }
    });
  }

  async getState(): Promise<AdamWState> {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [name, t] of this.m) m.set(name, (await t.data()) as Float32Array);
    for (const [name, t] of this.v) v.set(name, (await t.data()) as Float32Array);
    return { step: this.step, m, v };
  }

  /** Restores moments and the step count; every parameter must be present with its size. */
  setState(s: AdamWState): void {
    for (const [label, src, dst] of [['m', s.m, this.m], ['v', s.v, this.v]] as const) {
      for (const [name, variable] of dst) {
        const data = src.get(name);
        if (!data || data.length !== variable.size) {
          throw new LlmdbgError('invalid_checkpoint', `optimizer state: ${label}.${name} is ${data ? `of size ${data.length}, expected ${variable.size}` : 'missing'}`, { hint: 'the checkpoint belongs to a different model; start a fresh run or point to the right checkpoint folder' });
        }
        tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, 'float32')));
      }
    }
    this.step = s.step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
