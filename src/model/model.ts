/**
 * `Model`: a loaded checkpoint with its config, tokenizer and hook inventory, and the library API
 * to run it: logits, runs with a cache of chosen hooks, and runs with hooks that observe or
 * replace activations. Hooks are passed per call and never outlive it.
 *
 * Inputs are validated here (token ids in range, lengths within the context) so that the model
 * code below never sees an impossible input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { LlmdbgError } from '../errors.js';
import { loadConfig, type ModelConfig } from '../formats/config.js';
import { loadTokenizer, type TextTokenizer } from '../formats/tokenizer.js';
import { openSafetensors, type TensorStore } from '../formats/safetensors.js';
import { openSafetensorsIndex } from '../formats/safetensors-index.js';
import { findWeightFiles } from '../formats/unsafe-formats.js';
import { paramsFromCheckpoint, type TensorSource } from './hf-layout.js';
import { disposeParams, flattenParams, type Params } from './params.js';
import { hookPoints, resolveHooks, type HookFn, type HookPoint } from './hooks.js';
import { runForward, type ForwardInput, type ForwardOutput, type KVCache } from './forward.js';
import { transposedProductsAreSlow } from '../engine/wasm-matmul.js';
import { hostArrayAllocator } from '../engine/backend.js';

/** Host-side tensor: shape plus flat row-major float32 data. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface RunOptions {
  /** Hooks by name or glob pattern; functions run in the order given. */
  hooks?: Record<string, HookFn | HookFn[]>;
  /** Names or patterns of activations to return. */
  cache?: readonly string[];
  logits?: 'all' | 'last' | 'none';
}

export interface RunResult {
  logits: tf.Tensor3D | null; // [B, T, V]
  cache: Record<string, tf.Tensor>;
}

export class Model {
  readonly hooks: readonly HookPoint[];

  constructor(
    readonly config: ModelConfig,
    readonly params: Params,
    readonly tokenizer: TextTokenizer | null,
    /** Where it was loaded from, for provenance. */
    readonly source: { dir: string; weightsDtype: string; fingerprint: string },
  ) {
    this.hooks = hookPoints(config);
  }

  get nParams(): number {
    let n = 0;
    for (const t of flattenParams(this.params).values()) n += t.size;
    return n;
  }

  // ---- inputs ---------------------------------------------------------------------------------

  /** Tokenizes text; refuses when the folder has no tokenizer. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    if (!this.tokenizer) {
      throw new LlmdbgError('no_tokenizer', `${this.source.dir} has no tokenizer.json (nor vocab.json + merges.txt)`, { hint: 'pass token ids with --ids 1,2,3 instead of --prompt' });
    }
    return this.tokenizer.encode(text, opts);
  }

  decode(ids: readonly number[]): string {
    if (!this.tokenizer) return ids.join(' ');
    return this.tokenizer.decode(ids);
  }

  /** Per-token display text (exact pieces when a tokenizer exists, else `[id]`). */
  tokenPieces(ids: readonly number[]): string[] {
    return this.tokenizer ? this.tokenizer.pieces(ids) : ids.map((i) => `[${i}]`);
  }

  /** Throws unless every id is an integer in [0, vocab) and the length fits the context. */
  checkIds(ids: readonly number[], extra = 0): void {
    if (ids.length === 0) throw new LlmdbgError('empty_prompt', 'the prompt has no tokens', { hint: 'give a non-empty --prompt or --ids' });
    const V = this.config.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new LlmdbgError('token_out_of_range', `token id ${id} at position ${i} is outside the vocabulary [0, ${V})`, { hint: `ids must be integers from 0 to ${V - 1}`, details: { position: i, id, vocabSize: V } });
      }
    }
    if (ids.length + extra > this.config.nCtx) {
      throw new LlmdbgError('prompt_too_long', `${ids.length} prompt tokens${extra ? ` + ${extra} new tokens` : ''} exceed the model's context of ${this.config.nCtx} positions`, {
        hint: `shorten the prompt${extra ? ' or lower --max-new-tokens' : ''}`,
        details: { promptTokens: ids.length, newTokens: extra, nCtx: this.config.nCtx },
      });
    }
  }

  /** Validated ids as an int32 tensor [B, T]. */
  idsTensor(batch: readonly (readonly number[])[]): tf.Tensor2D {
    const T = batch[0]?.length ?? 0;
    for (const row of batch) {
      if (row.length !== T) throw new LlmdbgError('invalid_argument', `batch rows have different lengths (${T} and ${row.length})`, { hint: 'pad or split the batch into equal-length rows' });
      this.checkIds(row);
    }
    return tf.tensor2d(batch.flat(), [batch.length, T], 'int32');
  }

  // ---- runs -----------------------------------------------------------------------------------

  /** Hook functions by exact name, from names or patterns. */
  private hookMap(hooks: RunOptions['hooks']): Map<string, HookFn[]> {
    const map = new Map<string, HookFn[]>();
    for (const [pattern, fnOrFns] of Object.entries(hooks ?? {})) {
      const fns = Array.isArray(fnOrFns) ? fnOrFns : [fnOrFns];
      for (const p of resolveHooks(this.config, [pattern])) map.set(p.name, [...(map.get(p.name) ?? []), ...fns]);
    }
    return map;
  }

  /**
   * Low-level forward on tensors; the caller owns the returned tensors (use tf.tidy around it).
   * `embeds` replaces the token-embedding lookup ([B, T, C], before positions are added).
   */
  forward(input: Omit<ForwardInput, 'logits'>, opts: RunOptions = {}): ForwardOutput & { cache: Record<string, tf.Tensor> } {
    const cacheOut: Record<string, tf.Tensor> = {};
    const cache = new Set(resolveHooks(this.config, opts.cache ?? []).map((p) => p.name));
    const out = runForward(this.config, this.params, { ...input, logits: opts.logits ?? 'all' }, { fns: this.hookMap(opts.hooks), cache, cacheOut });
    return { ...out, cache: cacheOut };
  }

  /** Runs a batch of id rows with hooks and/or a cache; returned tensors belong to the caller. */
  run(batch: readonly (readonly number[])[], opts: RunOptions = {}): RunResult {
    // Resolve names before any tensor work so that a bad name fails fast and leaks nothing.
    resolveHooks(this.config, [...(opts.cache ?? []), ...Object.keys(opts.hooks ?? {})]);
    return tf.tidy(() => {
      const ids = this.idsTensor(batch);
      const out = this.forward({ ids }, opts);
      return { logits: out.logits, cache: out.cache } as unknown as tf.TensorContainer;
    }) as unknown as RunResult;
  }

  /** Logits for one sequence as host data [T, V]. */
  async logits(ids: readonly number[]): Promise<HostTensor> {
    const r = this.run([ids]);
    try {
      const l = r.logits!;
      return { shape: l.shape.slice(1), data: (await l.data()) as Float32Array };
    } finally {
      r.logits?.dispose();
    }
  }

  /** Logits and the chosen activations of one sequence, as host data (shapes include the batch of 1). */
  async runWithCache(ids: readonly number[], names: readonly string[], opts: Omit<RunOptions, 'cache'> = {}): Promise<{ logits: HostTensor | null; cache: Record<string, HostTensor> }> {
    const r = this.run([ids], { ...opts, cache: names });
    try {
      const cache: Record<string, HostTensor> = {};
      for (const [name, t] of Object.entries(r.cache)) cache[name] = { shape: t.shape, data: (await t.data()) as Float32Array };
      const logits = r.logits ? { shape: r.logits.shape, data: (await r.logits.data()) as Float32Array } : null;
      return { logits, cache };
    } finally {
      r.logits?.dispose();
      for (const t of Object.values(r.cache)) t.dispose();
    }
  }

  dispose(): void {
    disposeParams(this.params);
  }
}

/**
 * The WASM heap is 32-bit (4 GiB) and holds the weights (once: llmdbg's WASM kernel keeps no copies)
 * plus activations. Refuse clearly instead of crashing inside WASM; the bound leaves ~0.8 GB for
 * activations and the load-time staging of one tensor (bench/max-model.ts measures what loads).
 */
export const WASM_MAX_WEIGHT_BYTES = 3.3e9;

export function checkFitsBackend(float32Bytes: number, backend: string, source: string): void {
  if (backend === 'wasm' && float32Bytes > WASM_MAX_WEIGHT_BYTES) {
    throw new LlmdbgError('model_too_large', `${source}: ${(float32Bytes / 1e9).toFixed(2)} GB of float32 weights do not fit the 4 GB WASM heap (at most about ${(WASM_MAX_WEIGHT_BYTES / 1e9).toFixed(1)} GB)`, {
      hint: 'use the native backend (apt-get install libopenblas-dev && npm rebuild; --backend native), which keeps weights outside the WASM heap',
      details: { float32Bytes, backend },
    });
  }
}

function storeSource(store: TensorStore, label: string): TensorSource {
  return {
    label,
    names: () => store.names(),
    read: (name) => {
      const t = store.read(name, hostArrayAllocator()); // where the backend's kernels read fastest
      return { shape: [...t.shape], data: t.data };
    },
  };
}

/** Loads a Hugging Face folder: config.json, safetensors weights (single or sharded), tokenizer. */
export function loadModel(dir: string): Model {
  const config = loadConfig(dir);
  const files = findWeightFiles(dir);
  const store = files.kind === 'single' ? openSafetensors(files.path) : openSafetensorsIndex(files.indexPath);
  let params: Params;
  const dtypes = new Set<string>();
  const hash = createHash('sha256');
  try {
    let elements = 0;
    for (const n of store.names()) {
      const info = store.info(n);
      dtypes.add(info.dtype);
      elements += info.shape.reduce((a, d) => a * d, 1);
    }
    checkFitsBackend(elements * 4, tf.getBackend(), dir);
    params = paramsFromCheckpoint(config, storeSource(store, files.kind === 'single' ? files.path : files.indexPath));
    const path = files.kind === 'single' ? files.path : files.indexPath;
    const st = statSync(path);
    // LIMITATION: the fingerprint is path, size and tensor count, not a content hash (dumps use src/debugger/model-hash.ts).
    hash.update(`${path}:${st.size}:${store.names().length}`);
  } finally {
    store.close();
  }
  const tokenizer = loadTokenizer(dir);
  // The CPU backend (and WASM on its XNNPACK route) multiplies by a transposed matrix far slower
  // than by a plain one: keep the unembedding also as [C, V] there (one extra copy of the table).
  if (transposedProductsAreSlow(tf.getBackend())) params.wUT = tf.transpose(params.wU) as tf.Tensor2D;
  return new Model(config, params, tokenizer, { dir, weightsDtype: [...dtypes].sort().join('+'), fingerprint: hash.digest('hex').slice(0, 16) });
}
