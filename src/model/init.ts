/**
 * Random initial parameters for training from scratch, and a builder for the Hugging Face
 * config.json of a new model. GPT-2/Llama-style init: weights and embeddings normal(0, std) with
 * std = initializer_range (0.02), residual output projections (wO, wOut) scaled by
 * 1/sqrt(2 nLayers), biases 0, norm weights 1. Deterministic from the seed on every backend.
 * Non-goals: matching PyTorch's own random stream (values are drawn on the host by `Rng`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/rng.js';
import { LlmdbgError } from '../errors.js';
import { parseConfig, type ModelConfig } from '../formats/config.js';
import { unflattenParams, type Params } from './params.js';

/** Fills `n` normal(0, std) float32 values with Box-Muller over the seeded generator. */
export function normalArray(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng.float(); // (0, 1]: log stays finite
    const u2 = rng.float();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Parameter names (as `flattenParams` spells them) with their shapes and init rule. */
function paramSpecs(c: ModelConfig): { name: string; shape: number[]; kind: 'normal' | 'resid' | 'zeros' | 'ones' }[] {
  const C = c.dModel;
  const qkv = (c.nHeads + 2 * c.nKvHeads) * c.dHead;
  const mIn = c.gatedMlp ? 2 * c.dMlp : c.dMlp;
  const ln = c.norm === 'layernorm';
  const specs: { name: string; shape: number[]; kind: 'normal' | 'resid' | 'zeros' | 'ones' }[] = [];
  const add = (name: string, shape: number[], kind: 'normal' | 'resid' | 'zeros' | 'ones') => specs.push({ name, shape, kind });
  add('wte', [c.vocabSize, C], 'normal');
  if (c.positional === 'learned') add('wpe', [c.nCtx, C], 'normal');
  for (let i = 0; i < c.nLayers; i++) {
    const p = `layers.${i}.`;
    add(`${p}ln1.w`, [C], 'ones');
    if (ln) add(`${p}ln1.b`, [C], 'zeros');
    add(`${p}wQKV`, [C, qkv], 'normal');
    if (c.qkvBias) add(`${p}bQKV`, [qkv], 'zeros');
    add(`${p}wO`, [c.nHeads * c.dHead, C], 'resid');
    if (c.oBias) add(`${p}bO`, [C], 'zeros');
    add(`${p}ln2.w`, [C], 'ones');
    if (ln) add(`${p}ln2.b`, [C], 'zeros');
    add(`${p}wIn`, [C, mIn], 'normal');
    if (c.mlpBias) add(`${p}bIn`, [mIn], 'zeros');
    add(`${p}wOut`, [c.dMlp, C], 'resid');
    if (c.mlpBias) add(`${p}bOut`, [C], 'zeros');
  }
  add('lnF.w', [C], 'ones');
  if (ln) add('lnF.b', [C], 'zeros');
  if (!c.tieEmbeddings) add('wU', [c.vocabSize, C], 'normal');
  return specs;
}

/**
 * New parameters for `c`, deterministic in `seed`. Each tensor draws from its own generator
 * (seeded by `seed` and the tensor's name), so adding a tensor never changes the others.
 */
export function initParams(c: ModelConfig, seed: number, opts: { std?: number } = {}): Params {
  const rawStd = c.raw['initializer_range'];
  const std = opts.std ?? (typeof rawStd === 'number' && rawStd > 0 ? rawStd : 0.02);
  const residStd = std / Math.sqrt(2 * c.nLayers);
  const flat = new Map<string, tf.Tensor>();
  for (const s of paramSpecs(c)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (s.kind === 'zeros') data = new Float32Array(n);
    else if (s.kind === 'ones') data = new Float32Array(n).fill(1);
    else data = normalArray(new Rng(`${seed}/${s.name}`), n, s.kind === 'resid' ? residStd : std);
    flat.set(s.name, tf.tensor(data, s.shape, 'float32'));
  }
  return unflattenParams(flat, c.nLayers, c.tieEmbeddings);
}

export interface NewModelDims {
  arch: 'gpt2' | 'llama';
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Llama only (default nHeads). */
  nKvHeads?: number;
  /** MLP width (default 4 dModel for GPT-2, 8/3 dModel rounded up to a multiple of 8 for Llama). */
  dMlp?: number;
  vocabSize: number;
  nCtx: number;
  /** Default true for GPT-2, false for Llama. */
  tieEmbeddings?: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | null;
  padTokenId?: number | null;
  ropeTheta?: number;
  /** Llama only: biases on the q/k/v/o projections (default false). They let a head attend by relative position alone, which tiny models trained from scratch need to form previous-token and induction heads quickly. */
  attentionBias?: boolean;
}

/** The Hugging Face config.json object of a new model, normalised through `parseConfig` (so it is valid). */
export function newModelConfig(d: NewModelDims): ModelConfig {
  for (const k of ['dModel', 'nLayers', 'nHeads', 'vocabSize', 'nCtx'] as const) {
    if (!Number.isSafeInteger(d[k]) || d[k] < 1) throw new LlmdbgError('invalid_argument', `new model: ${k} = ${d[k]} must be a positive integer`);
  }
  const ids = { bos_token_id: d.bosTokenId ?? null, eos_token_id: d.eosTokenId ?? null, pad_token_id: d.padTokenId ?? null };
  if (d.arch === 'gpt2') {
    return parseConfig({
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', activation_function: 'gelu_new',
      n_embd: d.dModel, n_layer: d.nLayers, n_head: d.nHeads, n_inner: d.dMlp ?? null, n_positions: d.nCtx, n_ctx: d.nCtx,
      vocab_size: d.vocabSize, layer_norm_epsilon: 1e-5, initializer_range: 0.02, tie_word_embeddings: d.tieEmbeddings ?? true,
      attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0, scale_attn_weights: true, use_cache: true, torch_dtype: 'float32', ...ids,
    });
  }
  const dMlp = d.dMlp ?? Math.ceil((8 * d.dModel) / 3 / 8) * 8;
  return parseConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu',
    hidden_size: d.dModel, num_hidden_layers: d.nLayers, num_attention_heads: d.nHeads, num_key_value_heads: d.nKvHeads ?? d.nHeads,
    intermediate_size: dMlp, vocab_size: d.vocabSize, max_position_embeddings: d.nCtx, rms_norm_eps: 1e-5,
    rope_theta: d.ropeTheta ?? 10000, rope_scaling: null, attention_bias: d.attentionBias ?? false, mlp_bias: false, attention_dropout: 0,
    initializer_range: 0.02, tie_word_embeddings: d.tieEmbeddings ?? false, use_cache: true, torch_dtype: 'float32', ...ids,
  });
}
