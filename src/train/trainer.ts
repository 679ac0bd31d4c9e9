/**
 * `train()`: next-token training on the runtime's own forward and backward. AdamW with warmup and
 * cosine decay, global-norm clipping, seeded and bit-for-bit deterministic (same inputs, same
 * weights), crash-safe checkpoints that resume to exactly the weights of an uninterrupted run,
 * progress through a callback and an AbortSignal that stops after the current step with a final
 * checkpoint. Starts from a loaded model (fine-tune) or from `initParams` (from scratch).
 * Non-goals: data parallelism, mixed precision, gradient accumulation, dropout.
 */
// LIMITATION: one batch per step (no gradient accumulation), float32 only, one process / one backend.
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LlmdbgError } from '../errors.js';
import { backendInfo, recycleForRepeatedShapes } from '../engine/backend.js';
import type { ModelConfig } from '../formats/config.js';
import { initParams } from '../model/init.js';
import { loadModel, type Model } from '../model/model.js';
import { disposeParams, type Params } from '../model/params.js';
import { readCompanionFiles, saveModel, type ModelToSave } from '../model/save.js';
import { AdamW, ADAMW_DEFAULTS } from './adamw.js';
import { checkRecipe, findLatestCheckpoint, listCheckpoints, readOptimizerState, removeCheckpoints, readTrainerState, sweepTempCheckpoints, writeCheckpoint, type TrainerState, type TrainRecipe } from './checkpoint.js';
import { clipByGlobalNorm } from './clip.js';
import type { TokenBatch, TokenBatchSource } from './data.js';
import { registerGradients } from '../engine/gradients.js';
import { batchGradients, type LossHook } from './step.js';
import { checkSchedule, lrAt } from './schedule.js';
import { disposeTrainable, makeTrainable, snapshotParams, type Trainable } from './trainable.js';
import { registerFastWasmMatMul } from '../engine/wasm-matmul.js';

export interface TrainOptions {
  /** Fine-tune: start from these weights (they are copied, never modified). */
  model?: Model | ModelToSave;
  /** From scratch: a config and the init seed (default `seed`); `files` are saved with it (tokenizer). */
  init?: { config: ModelConfig; seed?: number; files?: ModelToSave['files'] };
  data: TokenBatchSource;
  steps: number;
  batchSize: number;
  seqLen: number;
  /** Rows per forward/backward pass (default batchSize); gradients of the passes are summed. Lowers peak memory. */
  microBatch?: number;
  /** Peak learning rate (default 3e-4), linear warmup steps (0), cosine floor (lr / 10). */
  lr?: number;
  warmup?: number;
  minLr?: number;
  /** Decoupled weight decay (0.1); see trainable.ts for which tensors decay. */
  weightDecay?: number;
  /** Global gradient-norm limit (1.0); null disables clipping. */
  clip?: number | null;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Recorded in the recipe; default init seed. The data order is the source's own seed. */
  seed?: number;
  checkpointDir?: string;
  /** Write a checkpoint every N steps (0: only at the end or on abort). */
  checkpointEvery?: number;
  keepCheckpoints?: number;
  /** Continue from the newest checkpoint in checkpointDir when there is one. */
  resume?: boolean;
  /** Save the final model there as a Hugging Face folder. */
  outDir?: string;
  /** Replace a model in outDir, and (when not resuming) discard earlier checkpoints in checkpointDir. */
  overwrite?: boolean;
  /** Progress every N steps (default 10) and at the last step. */
  logEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
  // LIMITATION: the loss hook is not part of the checkpoint recipe, so a resume with another hook is not detected.
  /** Replaces the loss of every micro-batch (adversarial training); the reported loss is the hook's. */
  lossHook?: LossHook;
}

export interface TrainProgress {
  step: number;
  steps: number;
  /** Mean loss over the steps since the previous report. */
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSec: number;
  etaSec: number;
  elapsedSec: number;
}

export interface TrainResult {
  config: ModelConfig;
  /** Final weights as plain tensors; the caller owns them (disposeParams). */
  params: Params;
  files: NonNullable<ModelToSave['files']>;
  step: number;
  stopReason: 'done' | 'aborted';
  finalLoss: number | null;
  history: TrainerState['history'];
  checkpoint: string | null;
  outDir: string | null;
  resumedFrom: string | null;
  info: Record<string, unknown>;
}

function recipeOf(o: TrainOptions): TrainRecipe {
  const lr = o.lr ?? 3e-4;
  return {
    steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, microBatch: o.microBatch ?? o.batchSize, lr, warmup: o.warmup ?? 0, minLr: o.minLr ?? lr / 10,
    weightDecay: o.weightDecay ?? ADAMW_DEFAULTS.weightDecay, clip: o.clip === undefined ? 1 : o.clip,
    beta1: o.beta1 ?? ADAMW_DEFAULTS.beta1, beta2: o.beta2 ?? ADAMW_DEFAULTS.beta2, eps: o.eps ?? ADAMW_DEFAULTS.eps, seed: o.seed ?? 0,
  };
}

function checkBatch(b: TokenBatch, B: number, T: number, V: number): void {
  if (b.batchSize !== B || b.seqLen !== T || b.ids.length !== B * T || b.targets.length !== B * T || b.mask.length !== B * T) {
    throw new LlmdbgError('invalid_dataset', `the data source returned a [${b.batchSize}, ${b.seqLen}] batch for a [${B}, ${T}] request`);
  }
  for (let i = 0; i < b.ids.length; i++) {
    const a = b.ids[i]!;
    const t = b.targets[i]!;
    if (!(a >= 0 && a < V) || !(t >= 0 && t < V)) {
      throw new LlmdbgError('token_out_of_range', `training batch: token id ${a >= 0 && a < V ? t : a} is outside the vocabulary [0, ${V})`, { hint: 'the data was tokenized for another model' });
    }
  }
}

function isModel(m: Model | ModelToSave): m is Model {
  return 'source' in m && 'hooks' in m;
}

/** The starting point: checkpoint (resume), base model, or fresh init. Params returned here are owned by the caller. */
interface Start {
  config: ModelConfig;
  params: Params;
  /** Whether `params` belong to the trainer (disposed once wrapped) or to the caller. */
  owned: boolean;
  files: NonNullable<ModelToSave['files']>;
  from: string;
  ckpt: { dir: string; state: TrainerState } | null;
}

function start(o: TrainOptions, recipe: TrainRecipe): Start {
  if (o.checkpointDir && !o.resume && listCheckpoints(o.checkpointDir).length > 0) {
    if (!o.overwrite) {
      throw new LlmdbgError('invalid_argument', `checkpoint folder ${o.checkpointDir} already holds checkpoints of another run`, { hint: 'resume it (--resume), start over (--overwrite), or choose another output folder' });
    }
    removeCheckpoints(o.checkpointDir);
  }
  if (o.resume && o.checkpointDir) {
    sweepTempCheckpoints(o.checkpointDir);
    const dir = findLatestCheckpoint(o.checkpointDir);
    if (dir) {
      const state = readTrainerState(dir);
      checkRecipe(state.recipe, recipe, dir);
      const now = JSON.stringify(o.data.describe());
      if (state.dataInfo && JSON.stringify(state.dataInfo) !== now) {
        throw new LlmdbgError('invalid_checkpoint', `${dir} was trained on other data (${JSON.stringify(state.dataInfo)}; now ${now})`, { hint: 'resume with the same dataset, or start a new run in another folder' });
      }
      const m = loadModel(dir);
      return { config: m.config, params: m.params, owned: true, files: readCompanionFiles(dir), from: dir, ckpt: { dir, state } };
    }
  }
  if (o.model) {
    const m = o.model;
    const files = isModel(m) ? readCompanionFiles(m.source.dir) : (m.files ?? {});
    return { config: m.config, params: m.params, owned: false, files, from: isModel(m) ? m.source.dir : 'memory', ckpt: null };
  }
  if (o.init) {
    const seed = o.init.seed ?? recipe.seed;
    return { config: o.init.config, params: initParams(o.init.config, seed), owned: true, files: o.init.files ?? {}, from: `init(seed ${seed})`, ckpt: null };
  }
  throw new LlmdbgError('invalid_argument', 'train: give a starting model (model) or a config to initialise (init)');
}

const tick = () => new Promise<void>((r) => setImmediate(r));

export async function train(o: TrainOptions): Promise<TrainResult> {
  const recipe = recipeOf(o);
  checkSchedule({ lr: recipe.lr, warmup: recipe.warmup, minLr: recipe.minLr, steps: recipe.steps });
  for (const k of ['batchSize', 'seqLen', 'microBatch'] as const) {
    if (!Number.isSafeInteger(recipe[k]) || recipe[k] < 1) throw new LlmdbgError('invalid_argument', `train: ${k} = ${recipe[k]} must be a positive integer`);
  }
  if (recipe.microBatch > recipe.batchSize) throw new LlmdbgError('invalid_argument', `train: microBatch ${recipe.microBatch} exceeds batchSize ${recipe.batchSize}`);
  if (recipe.clip !== null && !(recipe.clip > 0)) throw new LlmdbgError('invalid_argument', `train: clip = ${recipe.clip} must be > 0 (or null for no clipping)`);
  if (o.outDir && !o.overwrite && existsSync(join(o.outDir, 'config.json'))) {
    throw new LlmdbgError('invalid_argument', `${o.outDir} already holds a model (config.json exists)`, { hint: 'choose a new output folder or pass overwrite (--overwrite)' });
  }
  registerGradients();
  registerFastWasmMatMul();

  const s = start(o, recipe);
  const { config: c, files } = s;
  if (recipe.seqLen > c.nCtx) throw new LlmdbgError('invalid_argument', `train: seqLen ${recipe.seqLen} exceeds the model's context of ${c.nCtx}`, { hint: `use a sequence length up to ${c.nCtx}` });
  let tr: Trainable;
  try {
    // Variables share the source tensors' data (reference-counted); updates never write into it.
    tr = makeTrainable(c, s.params);
  } finally {
    if (s.owned) disposeParams(s.params);
  }
  let opt: AdamW | null = null;
  const restorePool = recycleForRepeatedShapes(); // every step repeats the same shapes
  try {
    const adam = (opt = new AdamW(tr.vars, tr.decay, { beta1: recipe.beta1, beta2: recipe.beta2, eps: recipe.eps, weightDecay: recipe.weightDecay }));
    let step = 0;
    let history: TrainerState['history'] = [];
    let tokensSeen = 0;
    let elapsedBefore = 0;
    if (s.ckpt) {
      adam.setState(readOptimizerState(s.ckpt.dir, s.ckpt.state.step));
      o.data.setState(s.ckpt.state.data);
      step = s.ckpt.state.step;
      history = [...s.ckpt.state.history];
      tokensSeen = s.ckpt.state.tokensSeen;
      elapsedBefore = s.ckpt.state.elapsedSec;
    }

    const backendName = backendInfo()?.name ?? tf.getBackend();
    // LIMITATION: bit-identical resumption needs the same backend (kernels round differently); a switch is only reported.
    const backendSwitch = s.ckpt?.state.backend && s.ckpt.state.backend !== backendName ? `${s.ckpt.state.backend} -> ${backendName}` : null;
    const B = recipe.batchSize, T = recipe.seqLen;
    const logEvery = Math.max(1, o.logEvery ?? 10);
    const t0 = performance.now();
    const startStep = step;
    let lastCkptStep = s.ckpt ? step : -1;
    let checkpoint: string | null = s.ckpt?.dir ?? null;
    let interval = { loss: 0, n: 0, t: performance.now(), norm: 0 };
    let finalLoss: number | null = null;
    let stopReason: TrainResult['stopReason'] = 'done';
    const elapsed = () => elapsedBefore + (performance.now() - t0) / 1000;

    const saveCheckpoint = async () => {
      if (!o.checkpointDir || lastCkptStep === step) return;
      const state: TrainerState = { format: 'llmdbg-trainer-state', version: 1, step, recipe, data: o.data.getState(), history, elapsedSec: elapsed(), tokensSeen, backend: backendName, dataInfo: o.data.describe() };
      checkpoint = await writeCheckpoint(o.checkpointDir, { config: c, params: tr.params, files }, await adam.getState(), state, o.keepCheckpoints ?? 2);
      lastCkptStep = step;
    };

    while (step < recipe.steps) {
      if (o.signal?.aborted) {
        stopReason = 'aborted';
        break;
      }
      const batch = o.data.next(B, T);
      checkBatch(batch, B, T, c.vocabSize);
      const lr = lrAt(step, recipe);
      const g = batchGradients(c, tr, batch, recipe.microBatch, o.lossHook);
      const lossT = g.loss;
      const normT = tf.tidy(() => {
        const clipped = clipByGlobalNorm(g.grads, recipe.clip);
        adam.update(clipped.grads, lr);
        return clipped.norm;
      });
      tf.dispose(Object.values(g.grads));
      const loss = (await lossT.data())[0]!;
      const norm = (await normT.data())[0]!;
      lossT.dispose();
      normT.dispose();
      if (!Number.isFinite(loss)) {
        throw new LlmdbgError('training_diverged', `training diverged: loss is ${loss} at step ${step + 1}`, { hint: 'lower the learning rate or enable clipping; the last checkpoint is still valid' });
      }
      step += 1;
      tokensSeen += B * T;
      finalLoss = loss;
      interval.loss += loss;
      interval.norm += norm;
      interval.n += 1;
      if (step % logEvery === 0 || step === recipe.steps) {
        const now = performance.now();
        const mean = interval.loss / interval.n;
        history.push({ step, loss: mean, lr, gradNorm: interval.norm / interval.n });
        const secPerStep = (now - t0) / 1000 / (step - startStep);
        o.onProgress?.({ step, steps: recipe.steps, loss: mean, lr, gradNorm: interval.norm / interval.n, tokensPerSec: (interval.n * B * T) / ((now - interval.t) / 1000), etaSec: secPerStep * (recipe.steps - step), elapsedSec: elapsed() });
        interval = { loss: 0, n: 0, t: now, norm: 0 };
      }
      if (o.checkpointEvery && step % o.checkpointEvery === 0 && step < recipe.steps) await saveCheckpoint();
      await tick();
    }
    await saveCheckpoint();
    if (stopReason === 'done' && o.outDir) await saveModel({ config: c, params: tr.params, files }, o.outDir, { overwrite: o.overwrite ?? false });
    const durationMs = performance.now() - t0;
    const be = backendInfo();
    return {
      config: c, params: snapshotParams(c, tr), files, step, stopReason, finalLoss, history, checkpoint,
      outDir: stopReason === 'done' ? (o.outDir ?? null) : null, resumedFrom: s.ckpt?.dir ?? null,
      info: {
        method: 'train-adamw', recipe, startedFrom: s.from, data: o.data.describe(), ...(o.lossHook ? { lossHook: o.lossHook.describe() } : {}),
        model: { arch: c.arch, layers: c.nLayers, dModel: c.dModel, vocabSize: c.vocabSize, parameters: [...tr.vars.values()].reduce((a, v) => a + v.size, 0) },
        backend: be?.name ?? tf.getBackend(), ...(backendSwitch ? { resumedOnOtherBackend: backendSwitch } : {}), durationMs: Math.round(durationMs),
        tokensPerSec: step > startStep ? ((step - startStep) * B * T) / (durationMs / 1000) : null, tokensSeen,
        peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      },
    };
  } finally {
    restorePool();
    opt?.dispose();
    disposeTrainable(tr);
  }
}
