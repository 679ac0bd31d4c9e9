/**
 * `attribute(model, request)`: input attributions for a target token or a whole continuation,
 * with every method of the registry, as one JSON-serialisable result with provenance.
 *
 * A continuation is one objective with G terms (one per continuation token) over the shared
 * prompt+continuation input, so each batch of rows runs one recorded forward and G backward
 * passes (vjp.ts) instead of G separate forward+backward runs. Non-goals: printing, parsing text.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import { inputEmbeds, positionLogProbs, topPrediction, checkTokenId, type Objective } from './objective.js';
import { METHODS, resolveMethod, resolveNorm, resolveRule } from './registry.js';
import { baselineEmbeds, defaultReplacement, describeBaseline } from './baseline.js';
import { inputXGradient, saliency, smoothGrad, type MethodOutput } from './gradient-methods.js';
import { completenessWarning, integratedGradients } from './integrated.js';
import { occlusion } from './occlusion.js';
import { aggregateWords, wordSpans } from './words.js';
import { DEFAULT_MEMORY_MB } from './memory.js';
import type { AttributeRequest, AttributionResult, Completeness, SingleTarget, TokenRef } from './types.js';

export const DEFAULTS = { steps: 32, rule: 'gauss-legendre', norm: 'l2', samples: 16, noise: 0.1, seed: 0 } as const;

interface Setup {
  sources: number[];
  obj: Objective;
  continuation: number[] | null;
  targetSource: 'top' | 'given';
}

async function setup(model: Model, req: AttributeRequest): Promise<Setup> {
  model.checkIds(req.ids);
  const cont = req.continuation ?? null;
  if (cont !== null) {
    if (cont.length === 0) throw new LlmdbgError('invalid_argument', 'the continuation is empty', { hint: 'give at least one continuation token' });
    if (req.target !== undefined || req.foil !== undefined) {
      throw new LlmdbgError('invalid_argument', 'a continuation has its own targets: --target and --foil do not combine with --continuation', { hint: 'drop --target/--foil, or attribute a single token without --continuation' });
    }
    const all = [...req.ids, ...cont];
    model.checkIds(all);
    const P = req.ids.length;
    return {
      sources: all.slice(0, -1),
      obj: { positions: cont.map((_, g) => P - 1 + g), targets: [...cont], foils: cont.map(() => null) },
      continuation: cont,
      targetSource: 'given',
    };
  }
  const T = req.ids.length;
  let target = req.target;
  if (target !== undefined) checkTokenId(model, target, '--target-id');
  if (req.foil !== undefined) checkTokenId(model, req.foil, '--foil-id');
  const source = target === undefined ? 'top' : 'given';
  if (target === undefined) target = (await topPrediction(model, req.ids)).id;
  if (req.foil !== undefined && req.foil === target) {
    throw new LlmdbgError('invalid_argument', `the foil is the target (id ${target}); contrastive attribution needs two different tokens`, { hint: 'choose another --foil' });
  }
  return { sources: [...req.ids], obj: { positions: [T - 1], targets: [target], foils: [req.foil ?? null] }, continuation: null, targetSource: source };
}

/** Log-probabilities of targets and foils, and objective values, at the unperturbed input. */
async function atInput(model: Model, x: tf.Tensor3D, obj: Objective): Promise<{ target: number[]; foil: (number | null)[]; value: number[] }> {
  const V = model.config.vocabSize;
  const lp = tf.tidy(() => positionLogProbs(model, x, obj.positions));
  const lpd = (await lp.data()) as Float32Array;
  lp.dispose();
  const target = obj.targets.map((id, g) => lpd[g * V + id]!);
  const foil = obj.foils.map((id, g) => (id === null ? null : lpd[g * V + id]!));
  return { target, foil, value: target.map((t, g) => t - (foil[g] ?? 0)) };
}

export async function attribute(model: Model, req: AttributeRequest): Promise<AttributionResult> {
  const t0 = performance.now();
  const method = resolveMethod(req.method);
  const spec = METHODS[method];
  const s = await setup(model, req);
  const T = s.sources.length;
  const memoryMB = req.memoryMB ?? DEFAULT_MEMORY_MB;
  const pass = { memoryMB, ...(req.reuseForward === false ? { reuseForward: false } : {}), ...(req.onProgress ? { onProgress: req.onProgress } : {}) };
  const norm = resolveNorm(req.norm ?? DEFAULTS.norm);
  const x = inputEmbeds(model, s.sources);
  let out: MethodOutput;
  let completeness: Completeness[] | null = null;
  const warnings: string[] = [];
  let at: Awaited<ReturnType<typeof atInput>> | undefined;
  // Saliency and input x gradient run one pass at the input itself: without foils its objective
  // values are the target log-probabilities (the same forward, the same bytes), so the separate
  // forward of atInput is skipped (GPT-2-small, 64 tokens: 425 -> ~300 ms).
  // Integrated gradients likewise reads f(input) from its alpha = 1 point when the rule has one.
  const valuesFromPass = (method === 'saliency' || method === 'input-x-gradient' || method === 'integrated-gradients') && s.obj.foils.every((f) => f === null);
  let separateForward = !valuesFromPass;
  try {
    if (!valuesFromPass) at = await atInput(model, x, s.obj);
    switch (method) {
      case 'saliency':
        out = await saliency(model, s.obj, x, norm, pass);
        break;
      case 'input-x-gradient':
        out = await inputXGradient(model, s.obj, x, pass);
        break;
      case 'smoothgrad':
      case 'vargrad':
        out = await smoothGrad(model, s.obj, x, method, norm, { samples: req.samples ?? DEFAULTS.samples, noise: req.noise ?? DEFAULTS.noise, seed: req.seed ?? DEFAULTS.seed }, pass);
        break;
      case 'integrated-gradients': {
        const rule = resolveRule(req.rule ?? DEFAULTS.rule);
        const steps = req.steps ?? DEFAULTS.steps;
        const baseline = req.baseline ?? { kind: 'zero' as const };
        const base = baselineEmbeds(model, baseline, T);
        try {
          const ig = await integratedGradients(model, s.obj, x, base, rule, steps, at ? at.value : null, pass);
          out = { ...ig, parameters: { ...ig.parameters, baseline: describeBaseline(baseline) }, valuesAtInput: Float32Array.from(ig.fInput) };
          completeness = ig.completeness;
          if (baseline.kind === 'zero' && model.config.positional === 'rotary' && model.config.norm === 'rmsnorm') {
            warnings.push('the zero baseline sits on RMSNorm\'s singularity in this model (no position embeddings are added, so every point alpha * x normalises to the same vector except near alpha = 0): the integral is concentrated near 0 and no rule resolves it; use a token baseline (--baseline pad|unk|eos|<id>)');
          }
          ig.completeness.forEach((c, g) => {
            const w = completenessWarning(c, rule, steps, s.continuation ? ` for continuation token ${g}` : '');
            if (w) warnings.push(w);
          });
        } finally {
          base.dispose();
        }
        break;
      }
      case 'occlusion': {
        const replacement = req.baseline ?? defaultReplacement(model);
        const r = baselineEmbeds(model, replacement, T);
        try {
          out = await occlusion(model, s.obj, x, r, at!.value, pass);
          out.parameters = { replacement: describeBaseline(replacement) };
        } finally {
          r.dispose();
        }
        break;
      }
    }
    if (!at) {
      const v = out.valuesAtInput;
      // a -inf log-probability becomes NaN in the pass's one-hot product: then run the forward after all
      at = v && v.every(Number.isFinite) ? { target: Array.from(v), foil: s.obj.foils.map(() => null), value: Array.from(v) } : await atInput(model, x, s.obj);
      if (!v || !v.every(Number.isFinite)) separateForward = true;
    }
  } finally {
    x.dispose();
  }

  const pieces = model.tokenPieces(s.sources);
  const tokens: TokenRef[] = s.sources.map((id, i) => ({ id, text: pieces[i]! }));
  const spans = wordSpans(pieces);
  const l2 = (method === 'saliency' || method === 'smoothgrad') && norm === 'l2';
  const words = (scores: number[]) => aggregateWords(spans, scores, spec.aggregate, l2);
  if (out.scores.some((row) => row.some((v) => !Number.isFinite(v)))) warnings.push('some scores are not finite (NaN or Infinity): the gradients overflowed or the model produced non-finite values');
  const info = {
    method,
    parameters: {
      ...out.parameters,
      ...(s.targetSource === 'top' ? { target: 'top prediction' } : {}),
      ...(req.foil !== undefined ? { foil: req.foil } : {}),
    },
    model: { dir: model.source.dir, arch: model.config.arch, fingerprint: model.source.fingerprint },
    durationMs: Math.round(performance.now() - t0),
    forwardRows: out.cost.forwardRows + (separateForward ? 1 : 0),
    backwardRows: out.cost.backwardRows,
    batchRows: out.cost.batchRows,
    memoryMB,
    sharedForward: out.cost.sharedForward,
  };

  if (s.continuation) {
    const P = req.ids.length;
    const cont = s.continuation;
    const contPieces = model.tokenPieces([...req.ids, ...cont]).slice(P);
    const rows = out.scores.map((row, g) => Array.from(row.subarray(0, P + g)));
    return {
      kind: 'continuation', method, tokens,
      target: { ids: [...cont], texts: contPieces, positions: s.obj.positions, logprobs: at.target },
      scores: rows,
      words: rows.map((r) => words(r)),
      delta: completeness ? completeness.map((c) => c.delta) : null,
      completeness,
      warnings, info,
    };
  }
  const id = s.obj.targets[0]!;
  const foilId = s.obj.foils[0] ?? null;
  const target: SingleTarget = {
    position: T - 1, id, text: model.tokenPieces([id])[0]!, source: s.targetSource,
    logprob: at.target[0]!, prob: Math.exp(at.target[0]!),
    foil: foilId === null ? null : { id: foilId, text: model.tokenPieces([foilId])[0]!, logprob: at.foil[0]! },
    value: at.value[0]!,
  };
  const scores = Array.from(out.scores[0]!);
  return {
    kind: 'single', method, tokens, target, scores, words: words(scores),
    delta: completeness ? completeness[0]!.delta : null,
    completeness: completeness ? completeness[0]! : null,
    warnings, info,
  };
}
