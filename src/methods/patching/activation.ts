/**
 * Activation patching: run the corrupted prompt, restore one activation from the clean prompt
 * (residual stream per layer and position, attention or MLP output per layer and position,
 * attention output per head over all positions or per position), and measure the share of the
 * clean-corrupted logit difference each restoration recovers. Prompts must have equal length.
 * Non-goals: the batched runner (engine.ts) and pictures (report/patching-html.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import { runPatches, type PatchJob } from './engine.js';
import { chooseTargetFoil, logitDiff, recoveredShare, type TargetFoil } from './metric.js';
import { lastLogits } from '../interventions/compare.js';

export const PATCH_KINDS = {
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  resid_post: 'hook_resid_post',
  attn_out: 'hook_attn_out',
  mlp_out: 'hook_mlp_out',
  head: 'attn.hook_z',
  head_pos: 'attn.hook_z',
} as const;
export type PatchKind = keyof typeof PATCH_KINDS;

export interface PatchingOptions {
  kind: PatchKind;
  /** Token whose logit difference is measured; default the clean run's top token. */
  target?: number;
  /** Contrast token; default the corrupted run's top token; null = the target's logit alone. */
  foil?: number | null;
  layers?: number[];
  /** Positions to patch (position kinds); default all. */
  positions?: number[];
  maxBatch?: number;
  reuse?: boolean;
  /** Keep every patched run's last-position logits in the result (large for big vocabularies). */
  keepLogits?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface PatchGrid {
  /** Row and column labels of `values` (layers x positions, layers x heads, or layer-head x positions). */
  rows: string[];
  cols: string[];
  rowAxis: 'layer' | 'layer_head';
  colAxis: 'pos' | 'head';
  /** Metric of each patched run. */
  values: number[][];
  /** Share of the clean-corrupted gap recovered; null when clean and corrupted agree. */
  recovered: (number | null)[][];
}

export interface PatchingResult extends PatchGrid {
  kind: PatchKind;
  site: string;
  tokens: { clean: string[]; corrupt: string[] };
  metric: { name: 'logit_diff'; target: { id: number; token: string }; foil: { id: number; token: string } | null; clean: number; corrupt: number };
  /** Per cell [V] when keepLogits. */
  logits?: Float32Array[][];
  info: { method: 'activation_patching'; kind: PatchKind; site: string; runs: number; maxBatch: number; reuse: boolean; positionsComputed: number; durationMs: number; model: { dir: string; fingerprint: string } };
}

export function checkPair(model: Model, clean: readonly number[], corrupt: readonly number[]): void {
  model.checkIds(clean);
  model.checkIds(corrupt);
  if (clean.length !== corrupt.length) {
    throw new LlmdbgError('prompt_length_mismatch', `the clean prompt has ${clean.length} tokens but the corrupted one has ${corrupt.length}`, {
      hint: 'patching compares position by position: give prompts that tokenize to the same length', details: { clean: clean.length, corrupt: corrupt.length },
    });
  }
}

/** Clean activations at `site` for every layer, [1, T, ...] each; the caller disposes them. */
export function sourceCache(model: Model, ids: readonly number[], site: string, hooks?: Record<string, import('../../model/hooks.js').HookFn[]>): { cache: Record<string, tf.Tensor>; logits: tf.Tensor3D } {
  const r = model.run([ids], { cache: [`blocks.*.${site}`], logits: 'last', ...(hooks ? { hooks } : {}) });
  return { cache: r.cache, logits: r.logits! };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export async function activationPatching(model: Model, clean: readonly number[], corrupt: readonly number[], o: PatchingOptions): Promise<PatchingResult> {
  const t0 = performance.now();
  checkPair(model, clean, corrupt);
  const c = model.config;
  const T = clean.length;
  const site = PATCH_KINDS[o.kind];
  if (!site) throw new LlmdbgError('invalid_argument', `unknown patching kind "${String(o.kind)}"`, { hint: `choose one of ${Object.keys(PATCH_KINDS).join(', ')}` });
  const layers = o.layers ?? range(c.nLayers);
  const positions = o.positions ?? range(T);
  for (const l of layers) if (!Number.isInteger(l) || l < 0 || l >= c.nLayers) throw new LlmdbgError('invalid_argument', `layer ${l} is outside [0, ${c.nLayers})`);
  for (const p of positions) if (!Number.isInteger(p) || p < 0 || p >= T) throw new LlmdbgError('invalid_argument', `position ${p} is outside [0, ${T})`, { hint: `the prompts have ${T} tokens` });
  const heads = range(c.nHeads);

  const jobs: PatchJob[] = [];
  const cell: [number, number][] = [];
  let rows: string[], cols: string[];
  let rowAxis: PatchGrid['rowAxis'] = 'layer', colAxis: PatchGrid['colAxis'] = 'pos';
  if (o.kind === 'head') {
    rows = layers.map((l) => `L${l}`);
    cols = heads.map((h) => `H${h}`);
    colAxis = 'head';
    layers.forEach((l, i) => heads.forEach((h, j) => { jobs.push({ layer: l, pos: null, head: h }); cell.push([i, j]); }));
  } else if (o.kind === 'head_pos') {
    rows = layers.flatMap((l) => heads.map((h) => `L${l}H${h}`));
    cols = positions.map(String);
    rowAxis = 'layer_head';
    layers.forEach((l, i) => heads.forEach((h) => positions.forEach((p, j) => { jobs.push({ layer: l, pos: p, head: h }); cell.push([i * heads.length + h, j]); })));
  } else {
    rows = layers.map((l) => `L${l}`);
    cols = positions.map(String);
    layers.forEach((l, i) => positions.forEach((p, j) => { jobs.push({ layer: l, pos: p, head: null }); cell.push([i, j]); }));
  }

  const src = sourceCache(model, clean, site);
  let cleanLogits: Float32Array;
  let out;
  let m: TargetFoil;
  try {
    cleanLogits = (await src.logits.data()) as Float32Array;
    // the metric needs two logits per run: read out only those unless all logits are kept
    m = chooseTargetFoil(cleanLogits, await lastLogits(model, corrupt), o.target, o.foil);
    const readout = m.foil === null ? [m.target] : [m.target, m.foil];
    out = await runPatches(model, {
      site, source: src.cache, target: { ids: corrupt }, jobs, ...(o.keepLogits ? {} : { readout }),
      ...(o.maxBatch !== undefined ? { maxBatch: o.maxBatch } : {}), ...(o.reuse !== undefined ? { reuse: o.reuse } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  } finally {
    src.logits.dispose();
    for (const t of Object.values(src.cache)) t.dispose();
  }
  const ro: TargetFoil = o.keepLogits ? m : { target: 0, foil: m.foil === null ? null : 1 }; // indices into the readout
  const ldClean = logitDiff(cleanLogits, m);
  const ldCorrupt = logitDiff(out.targetLogits, m);
  const values = rows.map(() => cols.map(() => 0));
  const recovered = rows.map(() => cols.map(() => null as number | null));
  const logits: Float32Array[][] | undefined = o.keepLogits ? rows.map(() => cols.map(() => new Float32Array(0) as Float32Array)) : undefined;
  jobs.forEach((_, k) => {
    const [i, j] = cell[k]!;
    const v = logitDiff(out.logits[k]!, ro);
    values[i]![j] = v;
    recovered[i]![j] = recoveredShare(v, ldClean, ldCorrupt);
    if (logits) logits[i]![j] = out.logits[k]!;
  });
  const piece = (id: number) => model.tokenPieces([id])[0]!;
  return {
    kind: o.kind, site, rows, cols, rowAxis, colAxis, values, recovered,
    tokens: { clean: model.tokenPieces(clean), corrupt: model.tokenPieces(corrupt) },
    metric: { name: 'logit_diff', target: { id: m.target, token: piece(m.target) }, foil: m.foil === null ? null : { id: m.foil, token: piece(m.foil) }, clean: ldClean, corrupt: ldCorrupt },
    ...(logits ? { logits } : {}),
    info: {
      method: 'activation_patching', kind: o.kind, site, runs: jobs.length, maxBatch: o.maxBatch ?? 16, reuse: o.reuse ?? true,
      positionsComputed: out.positionsComputed, durationMs: Math.round(performance.now() - t0), model: { dir: model.source.dir, fingerprint: model.source.fingerprint },
    },
  };
}
