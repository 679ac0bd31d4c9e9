/**
 * Dumps: chosen hook tensors of a run (a forward pass, or a generation with one pass per token)
 * written as `tensors.safetensors` + `manifest.json` (hook names, shapes, model hash, ids, seed).
 * Crash safety: both files are replaced atomically, the tensors first and the manifest last; the
 * manifest records the tensors file's sha256, so a dump torn between the two is refused on load.
 * Non-goals: streaming dumps larger than memory; dtypes other than F32.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { LlmdbgError } from '../errors.js';
import type { Model } from '../model/model.js';
import { resolveHooks, type HookFn } from '../model/hooks.js';
import { generate, resolveSampling, type GenerateOptions } from '../model/generate.js';
import type { SamplingOptions } from '../model/sampling.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { writeSafetensors } from '../formats/safetensors-write.js';
import { openSafetensors, type SafetensorsFile } from '../formats/safetensors.js';
import { modelHash, sha256File, type ModelHash } from './model-hash.js';

export const DUMP_FORMAT = 'llmdbg-dump';
export const DUMP_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';
export const TENSORS_FILE = 'tensors.safetensors';

export interface DumpEntry {
  /** Tensor name in the safetensors file: `<hook>@<step>`. */
  key: string;
  hook: string;
  layer: number | null;
  /** Generation step (0 = prefill pass over the prompt). */
  step: number;
  /** Sequence position of the tensor's first pos row. */
  posOffset: number;
  shape: number[];
}

export interface DumpManifest {
  format: typeof DUMP_FORMAT;
  version: number;
  createdAt: string;
  model: { dir: string; arch: string; sha256: string; files: ModelHash['files'] };
  backend: string | null;
  ids: number[];
  generated: number[];
  seed: number;
  sampling: SamplingOptions;
  maxNewTokens: number;
  hooks: string[];
  /** In execution order. */
  tensors: DumpEntry[];
  tensorsFile: { name: string; bytes: number; sha256: string };
  info: { method: 'dump'; durationMs: number };
}

export interface DumpRecording {
  manifest: Omit<DumpManifest, 'tensorsFile' | 'createdAt'>;
  data: Map<string, Float32Array>;
}

export interface RecordOptions extends Pick<GenerateOptions, 'temperature' | 'topK' | 'topP' | 'seed'> {
  /** Hook names or patterns (default every hook point). */
  hooks?: readonly string[];
  /** 0 (default): one forward pass; N: the passes of an N-token generation. */
  maxNewTokens?: number;
  backend?: string | null;
  /** Hooks applied before capture (e.g. to reproduce an edit). */
  inject?: GenerateOptions['hooks'];
}

export function dumpKey(hook: string, step: number): string {
  return `${hook}@${step}`;
}

/** Runs the model and captures the chosen hook tensors of every pass. */
export async function recordDump(model: Model, ids: readonly number[], o: RecordOptions = {}): Promise<DumpRecording> {
  const maxNew = o.maxNewTokens ?? 0;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new LlmdbgError('invalid_argument', `maxNewTokens ${maxNew} must be an integer >= 0`);
  const hooks = [...(o.hooks ?? ['*'])];
  const names = new Set(resolveHooks(model.config, hooks).map((p) => p.name));
  model.checkIds(ids, maxNew);
  const hash = await modelHash(model.source.dir);
  const entries: DumpEntry[] = [];
  const data = new Map<string, Float32Array>();
  let step = 0;
  const capture: HookFn = (x, ctx) => {
    if (!names.has(ctx.name)) return;
    const key = dumpKey(ctx.name, step);
    entries.push({ key, hook: ctx.name, layer: ctx.layer, step, posOffset: ctx.posOffset, shape: [...x.shape] });
    data.set(key, Float32Array.from(x.dataSync()));
  };
  const inject = o.inject ?? {};
  const all: NonNullable<GenerateOptions['hooks']> = { ...inject, '*': [...(inject['*'] === undefined ? [] : Array.isArray(inject['*']) ? inject['*'] : [inject['*']]), capture] };
    const g: GenerateOptions = { ...(o.temperature !== undefined ? { temperature: o.temperature } : {}), ...(o.topK !== undefined ? { topK: o.topK } : {}), ...(o.topP !== undefined ? { topP: o.topP } : {}), seed: o.seed ?? 0 };
  const sampling = resolveSampling(g);
  const t0 = performance.now();
  let generated: number[] = [];
  if (maxNew === 0) {
    tf.tidy(() => {
      model.forward({ ids: tf.tensor2d([...ids], [1, ids.length], 'int32') }, { hooks: all, logits: 'none' });
    });
  } else {
    const res = await generate(model, ids, { ...g, maxNewTokens: maxNew, stopAtEos: false, hooks: all }, () => {
      step++;
    });
    generated = res.generated;
  }
  return {
    manifest: {
      format: DUMP_FORMAT, version: DUMP_VERSION,
      model: { dir: model.source.dir, arch: model.config.arch, sha256: hash.sha256, files: hash.files },
      backend: o.backend ?? null, ids: [...ids], generated, seed: o.seed ?? 0, sampling, maxNewTokens: maxNew, hooks, tensors: entries,
      info: { method: 'dump', durationMs: Math.round(performance.now() - t0) },
    },
    data,
  };
}

/** The array's own bytes (a view of a larger buffer, as native arrays are, is not widened to it). */
const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Writes a recording into folder `dir` (created if needed); returns the final manifest. */
export async function writeDump(dir: string, rec: DumpRecording): Promise<DumpManifest> {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new LlmdbgError('write_failed', `${dir}: cannot create the dump folder (${(e as Error).message})`, { cause: e, hint: 'choose a writable --out folder' });
  }
  const tensorsPath = nodePath.join(dir, TENSORS_FILE);
  const list = rec.manifest.tensors.map((e) => ({ name: e.key, dtype: 'F32' as const, shape: e.shape, bytes: bytesOf(rec.data.get(e.key)!) }));
  await writeSafetensors(tensorsPath, list, { format: DUMP_FORMAT });
  const file = await sha256File(tensorsPath);
  const manifest: DumpManifest = { ...rec.manifest, createdAt: new Date().toISOString(), tensorsFile: { name: TENSORS_FILE, ...file } };
  await writeFileAtomic(nodePath.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

export interface Dump {
  dir: string;
  manifest: DumpManifest;
  /** Keys in execution order. */
  keys(): string[];
  entry(key: string): DumpEntry | undefined;
  read(key: string): { shape: number[]; data: Float32Array };
  close(): void;
}

function invalid(dir: string, msg: string, hint = 'write the dump again with `llmdbg dump`'): LlmdbgError {
  return new LlmdbgError('dump_invalid', `${dir}: ${msg}`, { hint, details: { dir } });
}

function checkManifest(dir: string, m: unknown): DumpManifest {
  const o = m as Partial<DumpManifest> | null;
  if (typeof o !== 'object' || o === null || o.format !== DUMP_FORMAT) throw invalid(dir, `${MANIFEST_FILE} is not an llmdbg dump manifest`);
  if (o.version !== DUMP_VERSION) throw invalid(dir, `dump version ${String(o.version)} is not supported (this llmdbg reads version ${DUMP_VERSION})`, 'use the llmdbg version that wrote it');
  if (!Array.isArray(o.tensors) || !o.tensorsFile || typeof o.tensorsFile.sha256 !== 'string' || !o.model || !Array.isArray(o.ids)) throw invalid(dir, `${MANIFEST_FILE} lacks tensors, tensorsFile, model or ids`);
  for (const e of o.tensors) {
    if (typeof e?.key !== 'string' || typeof e.hook !== 'string' || !Number.isInteger(e.step) || !Array.isArray(e.shape)) throw invalid(dir, `${MANIFEST_FILE} has a malformed tensor entry ${JSON.stringify(e)}`);
  }
  return o as DumpManifest;
}

/** Opens a dump folder, checking that the tensors file is the one the manifest describes. */
export async function loadDump(dir: string): Promise<Dump> {
  let text: string;
  try {
    text = readFileSync(nodePath.join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw invalid(dir, `no ${MANIFEST_FILE}: not a dump folder, or the dump was interrupted before it finished`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw invalid(dir, `${MANIFEST_FILE} is not valid JSON (${(e as Error).message})`);
  }
  const manifest = checkManifest(dir, parsed);
  const path = nodePath.join(dir, manifest.tensorsFile.name ?? TENSORS_FILE);
  const actual = await sha256File(path);
  if (actual.sha256 !== manifest.tensorsFile.sha256) {
    throw invalid(dir, `${nodePath.basename(path)} does not match its manifest (sha256 ${actual.sha256.slice(0, 12)}... vs ${manifest.tensorsFile.sha256.slice(0, 12)}...): the dump was modified or torn by a crash`);
  }
  const file: SafetensorsFile = openSafetensors(path);
  const byKey = new Map(manifest.tensors.map((e) => [e.key, e]));
  for (const e of manifest.tensors) {
    const info = file.has(e.key) ? file.info(e.key) : null;
    if (!info || info.shape.join(',') !== e.shape.join(',')) {
      file.close();
      throw invalid(dir, `tensor ${e.key} is ${info ? `[${info.shape}] in the file but [${e.shape}] in the manifest` : 'listed in the manifest but missing from the file'}`);
    }
  }
  return {
    dir,
    manifest,
    keys: () => manifest.tensors.map((e) => e.key),
    entry: (key) => byKey.get(key),
    read: (key) => {
      const t = file.read(key);
      return { shape: [...t.shape], data: t.data };
    },
    close: () => file.close(),
  };
}
