/**
 * The MLP of a block: GPT-2's act(x W_in) W_out, or the gated down(act(gate) * up) of Llama-family models.
 * B = batch, T = positions, C = d_model, M = d_mlp.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../../formats/config.js';
import type { LayerParams } from '../params.js';
import { activate } from './activations.js';
import { linear } from '../../engine/fused.js';
import type { HookEvent, Visit } from '../visit.js';

export function* mlp(c: ModelConfig, p: LayerParams, h: tf.Tensor3D, visit: Visit): Generator<HookEvent, tf.Tensor3D, tf.Tensor | void> {
  const [B, T] = h.shape;
  const M = c.dMlp;
  const hIn = linear(tf.reshape(h, [B * T, c.dModel]), p.wIn, p.bIn); // [B T, M] or [B T, 2M]
  let post: tf.Tensor;
  if (c.gatedMlp) {
    const [gate, up] = tf.split(hIn, [M, M], 1);
    const pre = yield* visit('mlp.hook_pre', tf.reshape(gate!, [B, T, M]));
    const lin = yield* visit('mlp.hook_pre_linear', tf.reshape(up!, [B, T, M]));
    post = yield* visit('mlp.hook_post', tf.mul(activate(c.act, pre), lin));
  } else {
    const pre = yield* visit('mlp.hook_pre', tf.reshape(hIn, [B, T, M]));
    post = yield* visit('mlp.hook_post', activate(c.act, pre));
  }
  const out = linear(tf.reshape(post, [B * T, M]), p.wOut, p.bOut); // [B T, C]
  return tf.reshape(out, [B, T, c.dModel]) as tf.Tensor3D;
}
