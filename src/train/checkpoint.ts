/**
 * Training checkpoints: `<dir>/step-00000100/` is a Hugging Face model folder plus
 * `optimizer.safetensors` (AdamW moments `m.<param>` / `v.<param>`) and `trainer_state.json`
 * (step, options, data position, loss history). A checkpoint is written into a hidden temp folder
 * and renamed into place, then `latest.json` is replaced atomically, so a kill at any moment leaves
 * the previous checkpoint usable. Non-goals: sharded or reduced-precision checkpoints.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LlmdbgError } from '../errors.js';
import { openSafetensors } from '../formats/safetensors.js';
import { writeSafetensors } from '../formats/safetensors-write.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { writeModelFiles, type ModelToSave } from '../model/save.js';
import type { AdamWState } from './adamw.js';

export const TRAINER_STATE_FORMAT = 'llmdbg-trainer-state';

/** Options that must match for a resumed run to continue the same trajectory. */
export interface TrainRecipe {
  steps: number;
  batchSize: number;
  seqLen: number;
  microBatch: number;
  lr: number;
  warmup: number;
  minLr: number;
  weightDecay: number;
  clip: number | null;
  beta1: number;
  beta2: number;
  eps: number;
  seed: number;
}

export interface TrainerState {
  format: typeof TRAINER_STATE_FORMAT;
  version: 1;
  /** Optimizer updates done. */
  step: number;
  recipe: TrainRecipe;
  /** The data source's `getState()` after the last batch used. */
  data: unknown;
  /** Mean loss per logged interval so far. */
  history: { step: number; loss: number; lr: number; gradNorm: number }[];
  elapsedSec: number;
  tokensSeen: number;
  /** Backend that computed the run (resuming elsewhere is allowed but not bit-identical). */
  backend?: string;
  /** The data source's `describe()`; a resumed run must describe its data identically. */
  dataInfo?: Record<string, unknown>;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // directories cannot be fsynced on every platform; the rename is still atomic
  }
}

/** Writes one checkpoint and publishes it; returns its folder. Keeps the newest `keep` checkpoints. */
export async function writeCheckpoint(dir: string, model: ModelToSave, opt: AdamWState, state: TrainerState, keep = 2): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const name = stepDirName(state.step);
  const tmp = join(dir, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const final = join(dir, name);
  try {
    await writeModelFiles(model, tmp);
    const tensors = [...opt.m].map(([n, d]) => ({ name: `m.${n}`, dtype: 'F32' as const, shape: [d.length], data: d }));
    for (const [n, d] of opt.v) tensors.push({ name: `v.${n}`, dtype: 'F32' as const, shape: [d.length], data: d });
    await writeSafetensors(join(tmp, 'optimizer.safetensors'), tensors, { format: 'llmdbg-adamw', step: String(opt.step) });
    await writeFileAtomic(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1) + '\n');
    // A folder of the same step can only be left by a run killed between this rename and latest.json.
    if (existsSync(final)) rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    fsyncDir(dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e instanceof LlmdbgError ? e : new LlmdbgError('write_failed', `checkpoint ${final}: ${(e as Error).message}`, { cause: e, hint: 'check free space and permissions of the checkpoint folder' });
  }
  await writeFileAtomic(join(dir, 'latest.json'), JSON.stringify({ step: state.step, dir: name }) + '\n');
  for (const old of listCheckpoints(dir).slice(keep)) rmSync(join(dir, stepDirName(old)), { recursive: true, force: true });
  return final;
}

/** Steps of the complete checkpoints in `dir`, newest first. */
export function listCheckpoints(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => /^step-(\d{8,})$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(dir, m[0], 'trainer_state.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/** Deletes every checkpoint, temp folder and the latest.json pointer in `dir` (other files stay). */
export function removeCheckpoints(dir: string): void {
  rmSync(join(dir, 'latest.json'), { force: true });
  for (const step of listCheckpoints(dir)) rmSync(join(dir, stepDirName(step)), { recursive: true, force: true });
  sweepTempCheckpoints(dir);
}

/** Removes temp folders left by a killed writer. */
export function sweepTempCheckpoints(dir: string): void {
  if (!existsSync(dir)) return;
  for (const n of readdirSync(dir)) if (n.startsWith('.tmp-step-')) rmSync(join(dir, n), { recursive: true, force: true });
}

/** The newest complete checkpoint folder (by latest.json, else by scanning), or null. */
export function findLatestCheckpoint(dir: string): string | null {
  try {
    const l = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as { dir?: unknown };
    if (typeof l.dir === 'string' && /^step-\d+$/.test(l.dir) && existsSync(join(dir, l.dir, 'trainer_state.json'))) return join(dir, l.dir);
  } catch {
    // missing or torn pointer: fall back to scanning
  }
  const steps = listCheckpoints(dir);
  return steps.length ? join(dir, stepDirName(steps[0]!)) : null;
}

export function readTrainerState(ckpt: string): TrainerState {
  const path = join(ckpt, 'trainer_state.json');
  let s: TrainerState;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as TrainerState;
  } catch (e) {
    throw new LlmdbgError('invalid_checkpoint', `${path}: cannot be read (${(e as Error).message})`, { hint: 'delete this checkpoint folder to resume from the previous one' });
  }
  if (s.format !== TRAINER_STATE_FORMAT || s.version !== 1 || !Number.isSafeInteger(s.step)) {
    throw new LlmdbgError('invalid_checkpoint', `${path} is not an llmdbg trainer state (format ${JSON.stringify(s.format)}, version ${JSON.stringify(s.version)})`);
  }
  return s;
}

export function readOptimizerState(ckpt: string, step: number): AdamWState {
  const f = openSafetensors(join(ckpt, 'optimizer.safetensors'));
  try {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const n of f.names()) {
      const data = f.read(n).data as Float32Array;
      if (n.startsWith('m.')) m.set(n.slice(2), data);
      else if (n.startsWith('v.')) v.set(n.slice(2), data);
    }
    return { step, m, v };
  } finally {
    f.close();
  }
}

/** Throws unless `saved` equals `now` field by field (a resumed run must follow the same recipe). */
export function checkRecipe(saved: TrainRecipe, now: TrainRecipe, ckpt: string): void {
  const diff = (Object.keys(now) as (keyof TrainRecipe)[]).filter((k) => saved[k] !== now[k]);
  if (diff.length > 0) {
    throw new LlmdbgError('invalid_checkpoint', `${ckpt} was trained with different options: ${diff.map((k) => `${k} ${JSON.stringify(saved[k])} (now ${JSON.stringify(now[k])})`).join(', ')}`, {
      hint: 'resume with the same options, or start a new run in another checkpoint folder',
      details: { saved, now },
    });
  }
}
