/**
 * Saving a model as an ordinary Hugging Face folder: `config.json` (the raw config, torch_dtype
 * float32), `model.safetensors` (F32, names and layouts by `paramsToCheckpoint`, the exact inverse
 * of loading) and the tokenizer files. Every file is written crash-safely and `config.json` last,
 * so a reader never pairs a new config with old weights. Non-goals: sharding, F16/BF16 output.
 */
// LIMITATION: weights are always saved as F32 in one file (a BF16 base model doubles in size).
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LlmdbgError } from '../errors.js';
import type { ModelConfig } from '../formats/config.js';
import { writeSafetensors } from '../formats/safetensors-write.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { paramsToCheckpoint } from './hf-layout.js';
import type { Model } from './model.js';
import type { Params } from './params.js';

/** Files that travel with a model's weights (tokenizer and generation settings). */
export const COMPANION_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'generation_config.json'] as const;

/** What to save: a loaded model, or a config with parameters and optional extra files. */
export interface ModelToSave {
  config: ModelConfig;
  params: Params;
  /** File name -> content (objects are written as JSON), e.g. `tokenizer.json`. */
  files?: Record<string, string | Uint8Array | object>;
}

/** The companion files present in a model folder, as bytes. */
export function readCompanionFiles(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const name of COMPANION_FILES) {
    const p = join(dir, name);
    if (existsSync(p)) out[name] = readFileSync(p);
  }
  return out;
}

function asSource(m: Model | ModelToSave): ModelToSave {
  if ('source' in m && 'hooks' in m) return { config: m.config, params: m.params, files: readCompanionFiles(m.source.dir) };
  return m as ModelToSave;
}

function encodeFile(v: string | Uint8Array | object): string | Uint8Array {
  if (typeof v === 'string' || v instanceof Uint8Array) return v;
  return JSON.stringify(v, null, 2) + '\n';
}

/** The config.json text for a model saved with float32 weights. */
export function configJsonText(c: ModelConfig): string {
  return JSON.stringify({ ...c.raw, torch_dtype: 'float32' }, null, 2) + '\n';
}

/**
 * Writes the folder's files into `dir` (created if missing): weights and companion files first,
 * `config.json` last. With `overwrite`, an existing `config.json` is removed before anything is
 * written, so the folder is never a mix of two models. Metadata goes into the safetensors header.
 */
export async function writeModelFiles(m: Model | ModelToSave, dir: string, opts: { overwrite?: boolean; metadata?: Record<string, string> } = {}): Promise<string[]> {
  const src = asSource(m);
  const cfgPath = join(dir, 'config.json');
  if (existsSync(cfgPath)) {
    if (!opts.overwrite) {
      throw new LlmdbgError('invalid_argument', `${dir} already holds a model (config.json exists)`, { hint: 'choose a new output folder or pass --overwrite' });
    }
    rmSync(cfgPath);
  }
  mkdirSync(dir, { recursive: true });
  const tensors = await paramsToCheckpoint(src.config, src.params);
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
    { format: 'pt', ...(opts.metadata ?? {}) },
  );
  const written = ['model.safetensors'];
  for (const [name, content] of Object.entries(src.files ?? {})) {
    if (name === 'config.json' || name === 'model.safetensors' || name.includes('/') || name.includes('\\')) {
      throw new LlmdbgError('invalid_argument', `saveModel: companion file name "${name}" is not allowed`, { hint: 'give plain file names other than config.json and model.safetensors' });
    }
    await writeFileAtomic(join(dir, name), encodeFile(content));
    written.push(name);
  }
  await writeFileAtomic(cfgPath, configJsonText(src.config));
  written.push('config.json');
  return written;
}

/** Saves `m` as a Hugging Face folder `dir`; returns the file names written. */
export async function saveModel(m: Model | ModelToSave, dir: string, opts: { overwrite?: boolean; metadata?: Record<string, string> } = {}): Promise<string[]> {
  return writeModelFiles(m, dir, opts);
}
