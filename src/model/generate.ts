/**
 * Autoregressive generation with a KV cache: one prefill pass over the prompt, then one position
 * per step. Each step reports the chosen id, its probability, the top candidates and the
 * generator state before the draw, which is what a trace records and a replay checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type RngState } from '../engine/rng.js';
import { checkSampling, chooseToken, type Candidate, type SamplingOptions } from './sampling.js';
import type { KVCache } from './forward.js';
import type { Model, RunOptions } from './model.js';

export interface GenerateOptions extends Partial<SamplingOptions> {
  maxNewTokens?: number;
  seed?: number;
  /** Stop when the model emits one of its end-of-sequence ids (default true). */
  stopAtEos?: boolean;
  /** Candidates recorded per step. */
  topCandidates?: number;
  /** Hooks applied at every forward pass (prefill and each step). */
  hooks?: RunOptions['hooks'];
}

export interface GenerationStep {
  step: number;
  id: number;
  prob: number;
  logprob: number;
  sampleProb: number;
  top: Candidate[];
  /** Generator state before this step's draw (null when greedy). */
  rngState: RngState | null;
}

export interface GenerationResult {
  ids: number[];
  generated: number[];
  steps: GenerationStep[];
  stopReason: 'max_new_tokens' | 'eos';
}

export function resolveSampling(o: GenerateOptions): SamplingOptions {
  const sampling = o.topK !== undefined || o.topP !== undefined;
  const s = { temperature: o.temperature ?? (sampling ? 1 : 0), topK: o.topK ?? 0, topP: o.topP ?? 1 };
  checkSampling(s);
  return s;
}

/** Generates from `promptIds`; `onStep` sees each step as it happens (for traces and progress). */
export async function generate(model: Model, promptIds: readonly number[], o: GenerateOptions = {}, onStep?: (s: GenerationStep) => void | Promise<void>): Promise<GenerationResult> {
  const maxNew = o.maxNewTokens ?? 20;
  const sampling = resolveSampling(o);
  model.checkIds(promptIds, maxNew);
  const rng = sampling.temperature > 0 ? new Rng(o.seed ?? 0) : null;
  const eos = new Set(o.stopAtEos === false ? [] : model.config.eosTokenIds);
  const ids = [...promptIds];
  const steps: GenerationStep[] = [];
  let kv: KVCache | undefined;
  let input: number[] = [...promptIds];
  let stopReason: GenerationResult['stopReason'] = 'max_new_tokens';
  try {
    for (let step = 0; step < maxNew; step++) {
      const past = kv;
      const out = tf.tidy(() => {
        const r = model.forward({ ids: tf.tensor2d(input, [1, input.length], 'int32'), ...(past ? { past } : {}) }, { logits: 'last', ...(o.hooks ? { hooks: o.hooks } : {}) });
        return { logits: r.logits!, kv: r.kv } as unknown as tf.TensorContainer;
      }) as unknown as { logits: tf.Tensor3D; kv: KVCache };
      if (past) disposeKV(past);
      kv = out.kv;
      const row = (await out.logits.data()) as Float32Array;
      out.logits.dispose();
      const rngState = rng ? rng.getState() : null;
      const c = chooseToken(row, sampling, rng, o.topCandidates ?? 10);
      const s: GenerationStep = { step, id: c.id, prob: c.prob, logprob: c.logprob, sampleProb: c.sampleProb, top: c.top, rngState };
      steps.push(s);
      ids.push(c.id);
      if (onStep) await onStep(s);
      if (eos.has(c.id)) {
        stopReason = 'eos';
        break;
      }
      input = [c.id];
    }
  } finally {
    if (kv) disposeKV(kv);
  }
  return { ids, generated: ids.slice(promptIds.length), steps, stopReason };
}

function disposeKV(kv: KVCache): void {
  for (const l of kv.layers) {
    l?.k.dispose();
    l?.v.dispose();
  }
}
