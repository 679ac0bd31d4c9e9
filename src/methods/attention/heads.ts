/**
 * Attention patterns of every layer and head for a prompt, and the head statistics of
 * stats.ts on that prompt and on seeded repeated random sequences (the standard probe for
 * induction heads: a random sequence followed by itself), with a ranked table per score.
 * Non-goal: pictures (report/attention-html.ts).
 */
import { LlmdbgError } from '../../errors.js';
import { Rng } from '../../engine/rng.js';
import type { Model, RunOptions } from '../../model/model.js';
import { HEAD_SCORES, layerHeadScores, meanScores, rankHeads, type HeadScore, type HeadScores, type RankedHead } from './stats.js';

export interface AttentionPatterns {
  ids: number[];
  tokens: string[];
  nLayers: number;
  nHeads: number;
  T: number;
  /** Per layer: [H, T, T] row-major (query rows, key columns). */
  layers: Float32Array[];
}

/** Patterns of one prompt (hooks, e.g. an intervention, are applied). */
export async function attentionPatterns(model: Model, ids: readonly number[], opts: { hooks?: RunOptions['hooks'] } = {}): Promise<AttentionPatterns> {
  const c = model.config;
  const r = await model.runWithCache(ids, ['blocks.*.attn.hook_pattern'], { logits: 'none', ...(opts.hooks ? { hooks: opts.hooks } : {}) });
  return {
    ids: [...ids], tokens: model.tokenPieces(ids), nLayers: c.nLayers, nHeads: c.nHeads, T: ids.length,
    layers: Array.from({ length: c.nLayers }, (_, l) => r.cache[`blocks.${l}.attn.hook_pattern`]!.data),
  };
}

/** `batch` rows of [bos?] + r + r with r uniform random ids of length `length` (seeded). */
export function repeatedRandomTokens(model: Model, o: { seed?: number; length?: number; batch?: number } = {}): number[][] {
  const c = model.config;
  const bos = c.bosTokenId;
  const maxLen = Math.floor((c.nCtx - (bos === null ? 0 : 1)) / 2);
  const n = o.length ?? Math.min(20, maxLen);
  if (!Number.isInteger(n) || n < 2 || n > maxLen) throw new LlmdbgError('invalid_argument', `repeated-sequence length ${n} must be an integer from 2 to ${maxLen}`, { hint: `two copies must fit the context of ${c.nCtx} positions` });
  const rng = new Rng(o.seed ?? 0);
  return Array.from({ length: o.batch ?? 4 }, () => {
    const r = Array.from({ length: n }, () => rng.int(c.vocabSize));
    return [...(bos === null ? [] : [bos]), ...r, ...r];
  });
}

export interface HeadRow extends HeadScores {
  layer: number;
  head: number;
  /** Scores on the repeated random sequences. */
  rep: Pick<HeadScores, 'prevToken' | 'duplicate' | 'induction'>;
}

export interface HeadStatsResult {
  ids: number[];
  tokens: string[];
  heads: HeadRow[];
  /** Heads ranked by each score (highest first); `rep.*` rankings use the repeated random sequences. */
  rankings: Record<string, RankedHead[]>;
  repeated: { seed: number; length: number; batch: number };
  info: { method: 'head_stats'; durationMs: number; model: { dir: string; fingerprint: string } };
}

export interface HeadStatsOptions {
  seed?: number;
  repLength?: number;
  repBatch?: number;
  /** Patterns of the prompt when already computed. */
  patterns?: AttentionPatterns;
  /** Hooks for both the prompt and the repeated-sequence runs (e.g. an intervention). */
  hooks?: RunOptions['hooks'];
}

export async function headStats(model: Model, ids: readonly number[], o: HeadStatsOptions = {}): Promise<HeadStatsResult> {
  const t0 = performance.now();
  const c = model.config;
  const pats = o.patterns ?? (await attentionPatterns(model, ids, o.hooks ? { hooks: o.hooks } : {}));
  const prompt = pats.layers.map((p) => layerHeadScores(p, pats.ids, c.nHeads)); // [L][H]
  const rows = repeatedRandomTokens(model, { seed: o.seed ?? 0, ...(o.repLength !== undefined ? { length: o.repLength } : {}), ...(o.repBatch !== undefined ? { batch: o.repBatch } : {}) });
  const R = rows.length, T = rows[0]!.length;
  const r = model.run(rows, { cache: ['blocks.*.attn.hook_pattern'], logits: 'none', ...(o.hooks ? { hooks: o.hooks } : {}) });
  const rep: HeadScores[][] = [];
  try {
    for (let l = 0; l < c.nLayers; l++) {
      const data = (await r.cache[`blocks.${l}.attn.hook_pattern`]!.data()) as Float32Array; // [R, H, T, T]
      const per = rows.map((row, b) => layerHeadScores(data.subarray(b * c.nHeads * T * T, (b + 1) * c.nHeads * T * T), row, c.nHeads));
      rep.push(Array.from({ length: c.nHeads }, (_, h) => meanScores(per.map((p) => p[h]!))));
    }
  } finally {
    for (const t of Object.values(r.cache)) t.dispose();
  }
  const heads: HeadRow[] = [];
  prompt.forEach((layer, l) => layer.forEach((s, h) => {
    const q = rep[l]![h]!;
    heads.push({ layer: l, head: h, ...s, rep: { prevToken: q.prevToken, duplicate: q.duplicate, induction: q.induction } });
  }));
  const rankings: Record<string, RankedHead[]> = {};
  for (const s of HEAD_SCORES) rankings[s] = rankHeads(prompt, s);
  for (const s of ['prevToken', 'duplicate', 'induction'] as HeadScore[]) rankings[`rep.${s}`] = rankHeads(rep, s);
  return {
    ids: pats.ids, tokens: pats.tokens, heads, rankings,
    repeated: { seed: o.seed ?? 0, length: (T - (c.bosTokenId === null ? 0 : 1)) / 2, batch: R },
    info: { method: 'head_stats', durationMs: Math.round(performance.now() - t0), model: { dir: model.source.dir, fingerprint: model.source.fingerprint } },
  };
}
