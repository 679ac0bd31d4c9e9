/**
 * Causal tracing (Meng et al., ROME): add seeded Gaussian noise to the token embeddings of chosen
 * positions, then restore one clean state (layer x position) at a time and measure how much of
 * the target token's probability comes back. Noise is drawn from the project's seeded PRNG
 * (Box-Muller), or given explicitly. Non-goals: window restoration of several layers at once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import { Rng } from '../../engine/rng.js';
import type { Model } from '../../model/model.js';
import type { HookFn } from '../../model/hooks.js';
import { runPatches, type PatchJob } from './engine.js';
import { sourceCache } from './activation.js';
import { recoveredShare, targetProb } from './metric.js';

export const TRACE_SITES = {
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  resid_post: 'hook_resid_post',
  attn_out: 'hook_attn_out',
  mlp_out: 'hook_mlp_out',
} as const;
export type TraceSite = keyof typeof TRACE_SITES;

export interface CausalTraceOptions {
  /** Positions whose token embeddings are noised (e.g. the subject tokens). */
  noisePositions: number[];
  site?: TraceSite;
  /** Standard deviation of the noise; default 3 x the standard deviation of the token-embedding matrix (ROME). */
  noiseScale?: number;
  seed?: number;
  /** Noise draws averaged (default 3). */
  samples?: number;
  /** Explicit noise per sample, each [noisePositions.length x d_model] row-major (overrides seed and scale). */
  noise?: Float32Array[];
  /** Token whose probability is traced; default the clean run's top token. */
  target?: number;
  layers?: number[];
  maxBatch?: number;
  reuse?: boolean;
  keepLogits?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface CausalTraceResult {
  site: string;
  rows: string[];
  cols: string[];
  tokens: string[];
  noisePositions: number[];
  target: { id: number; token: string };
  /** Target probability of the clean run, and of the noised run (mean over samples). */
  clean: number;
  noisy: number;
  /** Mean target probability with each state restored: [layer][pos]. */
  values: number[][];
  recovered: (number | null)[][];
  /** Last-position logits per sample, layer and position (when keepLogits). */
  logits?: Float32Array[][][];
  info: { method: 'causal_trace'; site: string; noiseScale: number | null; seed: number | null; samples: number; runs: number; positionsComputed: number; durationMs: number; model: { dir: string; fingerprint: string } };
}

/** Standard normal draws from the seeded generator (Box-Muller). */
export function gaussian(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rng.float(); // (0, 1]
    const u2 = rng.float();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** Hook adding noise rows to hook_embed at absolute positions; follows ctx.posOffset so it works on suffix runs. */
function noiseHook(noise: Float32Array, positions: readonly number[], T: number, C: number): HookFn {
  const full = new Float32Array(T * C);
  positions.forEach((p, i) => full.set(noise.subarray(i * C, (i + 1) * C), p * C));
  return (x, ctx) => {
    const Tx = x.shape[1]!;
    const rows = tf.tensor3d(full.subarray(ctx.posOffset * C, (ctx.posOffset + Tx) * C), [1, Tx, C]);
    return tf.add(x, rows);
  };
}

// LIMITATION: restores one state at a time; ROME's windowed restoration (several layers of attention or
// MLP outputs at once) is not implemented.
export async function causalTrace(model: Model, ids: readonly number[], o: CausalTraceOptions): Promise<CausalTraceResult> {
  const t0 = performance.now();
  const c = model.config;
  const T = ids.length;
  model.checkIds(ids);
  if (o.noisePositions.length === 0) throw new LlmdbgError('invalid_argument', 'causal tracing needs at least one position to noise', { hint: 'e.g. --noise-positions 1,2 (the subject tokens)' });
  for (const p of o.noisePositions) if (!Number.isInteger(p) || p < 0 || p >= T) throw new LlmdbgError('invalid_argument', `noise position ${p} is outside [0, ${T})`, { hint: `the prompt has ${T} tokens` });
  const site = TRACE_SITES[o.site ?? 'resid_pre'];
  const layers = o.layers ?? Array.from({ length: c.nLayers }, (_, l) => l);
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= c.nLayers) throw new LlmdbgError('invalid_argument', `layer ${l} is outside [0, ${c.nLayers})`);
  const n = o.noisePositions.length * c.dModel;
  let noises: Float32Array[];
  let scale: number | null = null;
  if (o.noise) {
    noises = o.noise;
    for (const z of noises) if (z.length !== n) throw new LlmdbgError('invalid_argument', `explicit noise has ${z.length} values but ${o.noisePositions.length} positions x d_model ${c.dModel} = ${n} are needed`);
  } else {
    scale = o.noiseScale ?? 3 * Math.sqrt(tf.tidy(() => tf.moments(model.params.wte).variance.dataSync()[0]!));
    const rng = new Rng(o.seed ?? 0);
    noises = Array.from({ length: o.samples ?? 3 }, () => gaussian(rng, n).map((x) => x * scale!));
  }
  const jobs: PatchJob[] = layers.flatMap((l) => ids.map((_, p) => ({ layer: l, pos: p, head: null })));
  const src = sourceCache(model, ids, site);
  let cleanLogits: Float32Array;
  const runs: Awaited<ReturnType<typeof runPatches>>[] = [];
  try {
    cleanLogits = (await src.logits.data()) as Float32Array;
    for (let s = 0; s < noises.length; s++) {
      runs.push(await runPatches(model, {
        site, source: src.cache, jobs,
        target: { ids, hooks: { hook_embed: [noiseHook(noises[s]!, o.noisePositions, T, c.dModel)] } },
        ...(o.maxBatch !== undefined ? { maxBatch: o.maxBatch } : {}), ...(o.reuse !== undefined ? { reuse: o.reuse } : {}),
        ...(o.onProgress ? { onProgress: (d: number, tot: number) => o.onProgress!(s * tot + d, noises.length * tot) } : {}),
      }));
    }
  } finally {
    src.logits.dispose();
    for (const t of Object.values(src.cache)) t.dispose();
  }
  const target = o.target ?? cleanLogits.reduce((best, x, i, a) => (x > a[best]! ? i : best), 0);
  const pClean = targetProb(cleanLogits, target);
  const pNoisy = runs.reduce((a, r) => a + targetProb(r.targetLogits, target), 0) / runs.length;
  const values = layers.map(() => ids.map(() => 0));
  jobs.forEach((j, k) => {
    const i = layers.indexOf(j.layer);
    values[i]![j.pos!] = runs.reduce((a, r) => a + targetProb(r.logits[k]!, target), 0) / runs.length;
  });
  return {
    site, rows: layers.map((l) => `L${l}`), cols: ids.map((_, p) => String(p)), tokens: model.tokenPieces(ids), noisePositions: [...o.noisePositions],
    target: { id: target, token: model.tokenPieces([target])[0]! }, clean: pClean, noisy: pNoisy,
    values, recovered: values.map((row) => row.map((v) => recoveredShare(v, pClean, pNoisy))),
    ...(o.keepLogits ? { logits: runs.map((r) => layers.map((_, i) => ids.map((__, p) => r.logits[i * T + p]!))) } : {}),
    info: {
      method: 'causal_trace', site, noiseScale: scale, seed: o.noise ? null : o.seed ?? 0, samples: noises.length, runs: jobs.length * noises.length,
      positionsComputed: runs.reduce((a, r) => a + r.positionsComputed, 0), durationMs: Math.round(performance.now() - t0),
      model: { dir: model.source.dir, fingerprint: model.source.fingerprint },
    },
  };
}
