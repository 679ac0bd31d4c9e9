/**
 * Command-line parsing shared by every command: the common options (--model, --prompt, --ids,
 * --json, --backend, --threads) and typed readers that turn bad values into one clear error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LlmdbgError } from '../errors.js';
import { DEFAULT_MODEL_DIR } from './paths.js';

export type Options = Record<string, string | boolean | string[] | undefined>;

export const COMMON: NonNullable<ParseArgsConfig['options']> = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  ids: { type: 'string' },
  json: { type: 'boolean' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): { values: Options; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
    return { values: r.values as Options, positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/, '');
    throw new LlmdbgError('invalid_argument', `${command}: ${msg}`, { hint: `see \`llmdbg ${command} --help\`` });
  }
}

export function str(v: Options, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

export function int(v: Options, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const s = str(v, name);
  if (s === undefined) return fallback;
  const n = Number(s);
  if (!/^-?\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new LlmdbgError('invalid_argument', `--${name} ${s} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}`);
  }
  return n;
}

export function float(v: Options, name: string, fallback: number | undefined): number | undefined {
  const s = str(v, name);
  if (s === undefined) return fallback;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new LlmdbgError('invalid_argument', `--${name} ${s} must be a number`);
  return n;
}

/** `--ids 1,2,3` (spaces allowed) -> numbers; range checks happen against the model later. */
export function parseIds(s: string): number[] {
  const parts = s.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new LlmdbgError('empty_prompt', '--ids is empty', { hint: 'give comma-separated token ids, e.g. --ids 1,2,3' });
  return parts.map((p, i) => {
    if (!/^-?\d+$/.test(p)) throw new LlmdbgError('invalid_argument', `--ids: "${p}" at position ${i} is not an integer token id`, { hint: 'give comma-separated token ids, e.g. --ids 1,2,3' });
    return Number(p);
  });
}

/** The model folder: --model, else the bundled demo model when present. */
export function modelDir(v: Options): string {
  const m = str(v, 'model');
  if (m !== undefined) {
    if (!existsSync(m)) throw new LlmdbgError('file_not_found', `--model ${m}: no such folder`, { hint: 'pass a Hugging Face model folder (config.json + *.safetensors)' });
    return m;
  }
  if (existsSync(join(DEFAULT_MODEL_DIR, 'config.json'))) return DEFAULT_MODEL_DIR;
  throw new LlmdbgError('no_model', 'no --model given and the bundled demo model is not present', {
    hint: 'pass --model DIR with a Hugging Face folder (config.json, model.safetensors, tokenizer.json)',
  });
}
