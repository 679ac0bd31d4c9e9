/**
 * Hugging Face `config.json` -> one normalised `ModelConfig` for every supported family.
 *
 * The model code reads only `ModelConfig`, never the raw JSON, so family differences live here.
 * Anything the runtime does not implement is refused with `unsupported_config`, naming the field
 * and its value, rather than silently computing something else.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LlmdbgError } from '../errors.js';

export const ARCHITECTURES = ['gpt2', 'llama', 'mistral', 'qwen2'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Activation names accepted in `activation_function` / `hidden_act`, as Hugging Face spells them. */
export const ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'quick_gelu', 'relu', 'silu', 'swish'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

export interface ModelConfig {
  arch: Architecture;
  nLayers: number;
  dModel: number;
  nHeads: number;
  /** Key/value heads; < nHeads for grouped-query attention. */
  nKvHeads: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  /** Longest sequence the model accepts (learned positions or the configured rotary range). */
  nCtx: number;
  norm: 'layernorm' | 'rmsnorm';
  normEps: number;
  act: Activation;
  /** Llama-style MLP: down(act(gate(x)) * up(x)). */
  gatedMlp: boolean;
  positional: 'learned' | 'rotary';
  ropeTheta: number;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  tieEmbeddings: boolean;
  /** Keys further back than this many positions are masked (Mistral); null = full causal attention. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** The raw config, kept for provenance. */
  raw: Record<string, unknown>;
}

type Raw = Record<string, unknown>;

function unsupported(field: string, value: unknown, why: string): LlmdbgError {
  return new LlmdbgError('unsupported_config', `config.json: ${field} = ${JSON.stringify(value)} is not supported: ${why}`, {
    details: { field, value },
  });
}

function num(raw: Raw, field: string, opts: { int?: boolean; min?: number; fallback?: number } = {}): number {
  const v = raw[field];
  if (v === undefined || v === null) {
    if (opts.fallback !== undefined) return opts.fallback;
    throw new LlmdbgError('invalid_config', `config.json: required field "${field}" is missing`, {
      hint: 'the folder must hold the Hugging Face config.json of the model',
    });
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || (opts.int && !Number.isSafeInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    throw new LlmdbgError('invalid_config', `config.json: "${field}" = ${JSON.stringify(v)} must be a${opts.int ? 'n integer' : ' number'}${opts.min !== undefined ? ` >= ${opts.min}` : ''}`);
  }
  return v;
}

function bool(raw: Raw, field: string, fallback: boolean): boolean {
  const v = raw[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new LlmdbgError('invalid_config', `config.json: "${field}" = ${JSON.stringify(v)} must be true or false`);
  return v;
}

function activation(raw: Raw, field: string, fallback: Activation): Activation {
  const v = raw[field] ?? fallback;
  if (typeof v !== 'string' || !(ACTIVATIONS as readonly string[]).includes(v)) {
    throw unsupported(field, v, `known activations are ${ACTIVATIONS.join(', ')}`);
  }
  return v as Activation;
}

function optId(raw: Raw, field: string): number | null {
  const v = raw[field];
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : null;
}

function idList(raw: Raw, field: string): number[] {
  const v = raw[field];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isSafeInteger(x));
  return [];
}

function gpt2Config(raw: Raw): Omit<ModelConfig, 'raw' | 'arch'> {
  const dModel = num(raw, 'n_embd', { int: true, min: 1 });
  const nHeads = num(raw, 'n_head', { int: true, min: 1 });
  if (dModel % nHeads !== 0) throw new LlmdbgError('invalid_config', `config.json: n_embd = ${dModel} is not divisible by n_head = ${nHeads}`);
  if (raw['scale_attn_by_inverse_layer_idx'] === true) throw unsupported('scale_attn_by_inverse_layer_idx', true, 'only the standard 1/sqrt(d_head) scaling is implemented');
  if (raw['scale_attn_weights'] === false) throw unsupported('scale_attn_weights', false, 'only scaled attention is implemented');
  if (raw['add_cross_attention'] === true) throw unsupported('add_cross_attention', true, 'llmdbg runs decoder-only models');
  return {
    nLayers: num(raw, 'n_layer', { int: true, min: 1 }),
    dModel,
    nHeads,
    nKvHeads: nHeads,
    dHead: dModel / nHeads,
    dMlp: num(raw, 'n_inner', { int: true, min: 1, fallback: 4 * dModel }),
    vocabSize: num(raw, 'vocab_size', { int: true, min: 1 }),
    nCtx: num(raw, 'n_positions', { int: true, min: 1, fallback: num(raw, 'n_ctx', { int: true, min: 1, fallback: 1024 }) }),
    norm: 'layernorm',
    normEps: num(raw, 'layer_norm_epsilon', { min: 0, fallback: 1e-5 }),
    act: activation(raw, 'activation_function', 'gelu_new'),
    gatedMlp: false,
    positional: 'learned',
    ropeTheta: 0,
    qkvBias: true,
    oBias: true,
    mlpBias: true,
    tieEmbeddings: bool(raw, 'tie_word_embeddings', true),
    slidingWindow: null,
    bosTokenId: optId(raw, 'bos_token_id'),
    eosTokenIds: idList(raw, 'eos_token_id'),
    padTokenId: optId(raw, 'pad_token_id'),
  };
}

function llamaFamilyConfig(raw: Raw, arch: Architecture): Omit<ModelConfig, 'raw' | 'arch'> {
  const dModel = num(raw, 'hidden_size', { int: true, min: 1 });
  const nHeads = num(raw, 'num_attention_heads', { int: true, min: 1 });
  const nKvHeads = num(raw, 'num_key_value_heads', { int: true, min: 1, fallback: nHeads });
  if (nHeads % nKvHeads !== 0) {
    throw new LlmdbgError('invalid_config', `config.json: num_attention_heads = ${nHeads} is not a multiple of num_key_value_heads = ${nKvHeads}`);
  }
  const headDimRaw = raw['head_dim'];
  if (headDimRaw === undefined || headDimRaw === null) {
    if (dModel % nHeads !== 0) throw new LlmdbgError('invalid_config', `config.json: hidden_size = ${dModel} is not divisible by num_attention_heads = ${nHeads} and no head_dim is given`);
  }
  const dHead = num(raw, 'head_dim', { int: true, min: 1, fallback: dModel / nHeads });
  if (dHead % 2 !== 0) throw unsupported('head_dim', dHead, 'rotary embeddings need an even head dimension');

  // LIMITATION: rope_scaling types (llama3, linear, dynamic, yarn) are refused, not implemented.
  const ropeScaling = raw['rope_scaling'];
  if (ropeScaling !== undefined && ropeScaling !== null) {
    const type = (ropeScaling as Raw)['rope_type'] ?? (ropeScaling as Raw)['type'];
    if (type !== 'default') throw unsupported('rope_scaling.rope_type', type ?? ropeScaling, 'only unscaled rotary embeddings are implemented; remove rope_scaling to run without it (positions beyond the original context will then differ from the reference)');
  }
  const partial = raw['partial_rotary_factor'];
  if (partial !== undefined && partial !== null && partial !== 1) throw unsupported('partial_rotary_factor', partial, 'only full rotary embeddings are implemented');
  if (raw['pretraining_tp'] !== undefined && raw['pretraining_tp'] !== 1 && raw['pretraining_tp'] !== null) {
    // pretraining_tp > 1 only changes how Meta sliced the matmuls; the maths is identical.
  }

  let slidingWindow: number | null = null;
  if (arch === 'mistral') {
    const w = raw['sliding_window'];
    if (w !== undefined && w !== null) slidingWindow = num(raw, 'sliding_window', { int: true, min: 1 });
  } else if (arch === 'qwen2') {
    if (raw['use_sliding_window'] === true) {
      const w = raw['sliding_window'];
      const maxWindowLayers = raw['max_window_layers'];
      const nLayers = num(raw, 'num_hidden_layers', { int: true, min: 1 });
      // Qwen2 applies the window only to layers >= max_window_layers; with all layers full it is a no-op.
      if (typeof maxWindowLayers !== 'number' || maxWindowLayers < nLayers) {
        throw unsupported('use_sliding_window', true, `per-layer sliding windows (sliding_window = ${JSON.stringify(w)}, max_window_layers = ${JSON.stringify(maxWindowLayers)}) are not implemented`);
      }
    }
  } else if (arch === 'llama') {
    if (raw['sliding_window'] !== undefined && raw['sliding_window'] !== null) throw unsupported('sliding_window', raw['sliding_window'], 'Llama models have no sliding window');
  }

  const qkvBias = arch === 'qwen2' ? true : bool(raw, 'attention_bias', false);
  const oBias = arch === 'qwen2' ? false : bool(raw, 'attention_bias', false);
  return {
    nLayers: num(raw, 'num_hidden_layers', { int: true, min: 1 }),
    dModel,
    nHeads,
    nKvHeads,
    dHead,
    dMlp: num(raw, 'intermediate_size', { int: true, min: 1 }),
    vocabSize: num(raw, 'vocab_size', { int: true, min: 1 }),
    nCtx: num(raw, 'max_position_embeddings', { int: true, min: 1, fallback: 2048 }),
    norm: 'rmsnorm',
    normEps: num(raw, 'rms_norm_eps', { min: 0, fallback: 1e-6 }),
    act: activation(raw, 'hidden_act', 'silu'),
    gatedMlp: true,
    positional: 'rotary',
    ropeTheta: num(raw, 'rope_theta', { min: 0, fallback: 10000 }),
    qkvBias,
    oBias,
    mlpBias: arch === 'qwen2' ? false : bool(raw, 'mlp_bias', false),
    tieEmbeddings: bool(raw, 'tie_word_embeddings', false),
    slidingWindow,
    bosTokenId: optId(raw, 'bos_token_id'),
    eosTokenIds: idList(raw, 'eos_token_id'),
    padTokenId: optId(raw, 'pad_token_id'),
  };
}

/** Normalises a parsed config.json object; throws on anything not implemented. */
export function parseConfig(raw: unknown, source = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new LlmdbgError('invalid_config', `${source}: expected a JSON object`);
  }
  const r = raw as Raw;
  const modelType = r['model_type'];
  if (typeof modelType !== 'string') {
    throw new LlmdbgError('invalid_config', `${source}: field "model_type" is missing`, { hint: `supported model types: ${ARCHITECTURES.join(', ')}` });
  }
  if (!(ARCHITECTURES as readonly string[]).includes(modelType)) {
    throw unsupported('model_type', modelType, `supported model types are ${ARCHITECTURES.join(', ')}`);
  }
  if (r['auto_map'] !== undefined) {
    // Remote code is never executed; the architecture is taken from model_type alone.
  }
  const arch = modelType as Architecture;
  const body = arch === 'gpt2' ? gpt2Config(r) : llamaFamilyConfig(r, arch);
  return { arch, ...body, raw: r };
}

/** Reads and normalises `<dir>/config.json`. */
export function loadConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) {
    throw new LlmdbgError('file_not_found', `${path} does not exist`, { hint: 'pass a Hugging Face model folder holding config.json and *.safetensors' });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new LlmdbgError('invalid_config', `${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, path);
}

/** Number of parameters implied by a config (embeddings counted once when tied). */
export function parameterCount(c: ModelConfig): number {
  const attn = c.dModel * c.dHead * (c.nHeads * 2 + c.nKvHeads * 2) + (c.qkvBias ? c.dHead * (c.nHeads + 2 * c.nKvHeads) : 0) + (c.oBias ? c.dModel : 0);
  const mlp = c.dModel * c.dMlp * (c.gatedMlp ? 3 : 2) + (c.mlpBias ? c.dMlp * (c.gatedMlp ? 2 : 1) + c.dModel : 0);
  const norms = (c.norm === 'layernorm' ? 2 : 1) * c.dModel * 2;
  const perLayer = attn + mlp + norms;
  const emb = c.vocabSize * c.dModel + (c.positional === 'learned' ? c.nCtx * c.dModel : 0);
  const head = c.tieEmbeddings ? 0 : c.vocabSize * c.dModel;
  const final = (c.norm === 'layernorm' ? 2 : 1) * c.dModel;
  return c.nLayers * perLayer + emb + head + final;
}
