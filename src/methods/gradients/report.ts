/**
 * Gradient analysis inside the model: for a loss (cross-entropy of a text) or a target
 * log-probability, the gradient norm at every hook point and for every parameter tensor, flagged
 * where it vanishes, explodes or is not finite, plus a per-layer view of what drives the output.
 *
 * Hook gradients come from zero "probe" tensors added to each activation (x + p): d loss / d p is
 * the gradient at that hook point. One forward and one backward compute everything.
 * Non-goals: optimiser state, gradients over several batches. Parameter gradients need memory
 * the size of the model (they exist all at once).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import { flattenParams } from '../../model/params.js';
import { hookShape, resolveHooks, type HookFn } from '../../model/hooks.js';
import { registerGradients } from '../../engine/gradients.js';
import { dotsOf, statsOf, unmasked } from './stats.js';
import { DEFAULT_THRESHOLDS, flagAll, type GradFlag, type Thresholds } from './flags.js';

export type GradientObjective = { kind: 'cross-entropy' } | { kind: 'target'; target: number; foil?: number };

export interface GradientRequest {
  ids: number[];
  objective?: GradientObjective;
  /** Hook names or patterns to probe (default every hook point). */
  hooks?: string[];
  /** Also parameter gradients (default true). */
  params?: boolean;
  thresholds?: Partial<Thresholds>;
}

interface Stat {
  name: string;
  shape: number[];
  gradNorm: number;
  /** gradNorm / sqrt(size): comparable across tensors of different sizes. */
  gradRms: number;
  gradMaxAbs: number;
  nonFinite: number;
  flags: GradFlag[];
}

export interface HookGradient extends Stat {
  layer: number | null;
  site: string;
  actNorm: number;
  /** sum(grad * activation): removing the activation changes the objective by about -gradXAct. */
  gradXAct: number;
}

export interface ParamGradient extends Stat {
  paramNorm: number;
  /** gradNorm / paramNorm: the relative size of a plain gradient step. */
  relative: number;
}

export interface LayerSummary {
  layer: number;
  /** Gradient norm entering the block (blocks.L.hook_resid_pre). */
  residGradNorm: number | null;
  /** gradXAct of the attention and MLP outputs: first-order effect of each component. */
  attnGradXAct: number | null;
  mlpGradXAct: number | null;
}

export interface GradientReport {
  objective: GradientObjective & { value: number; description: string };
  hooks: HookGradient[];
  params: ParamGradient[];
  layers: LayerSummary[];
  /** L2 norm over all parameter gradients (what gradient clipping looks at). */
  globalNorm: number | null;
  flagged: { kind: 'hook' | 'param'; name: string; flags: GradFlag[] }[];
  thresholds: Thresholds;
  info: { method: 'gradients'; model: { dir: string; arch: string; fingerprint: string }; tokens: number; durationMs: number };
}

function lossOf(model: Model, ids: number[], obj: GradientObjective, hooks: Record<string, HookFn>): tf.Scalar {
  const T = ids.length;
  const idsT = tf.tensor2d(ids, [1, T], 'int32');
  if (obj.kind === 'target') {
    const out = model.forward({ ids: idsT }, { hooks, logits: 'last' });
    const lp = tf.logSoftmax(tf.reshape(out.logits!, [1, model.config.vocabSize]));
    const pick = (id: number) => tf.sum(tf.slice(lp, [0, id], [1, 1]));
    return (obj.foil === undefined ? pick(obj.target) : tf.sub(pick(obj.target), pick(obj.foil))) as tf.Scalar;
  }
  const out = model.forward({ ids: idsT }, { hooks, logits: 'all' });
  const lp = tf.logSoftmax(tf.reshape(tf.slice(out.logits!, [0, 0, 0], [1, T - 1, model.config.vocabSize]), [T - 1, model.config.vocabSize]));
  const onehot = tf.oneHot(tf.tensor1d(ids.slice(1), 'int32'), model.config.vocabSize);
  return tf.neg(tf.div(tf.sum(tf.mul(lp, onehot)), T - 1)) as tf.Scalar;
}

// LIMITATION: one sequence per report (no batch), and parameter gradients for the whole model are
// held at once (memory the size of the weights); use params: false on large models.
export async function gradientReport(model: Model, req: GradientRequest): Promise<GradientReport> {
  const t0 = performance.now();
  registerGradients();
  const ids = req.ids;
  model.checkIds(ids);
  const obj = req.objective ?? { kind: 'cross-entropy' as const };
  if (obj.kind === 'cross-entropy' && ids.length < 2) {
    throw new LlmdbgError('invalid_argument', 'the cross-entropy of a text needs at least 2 tokens', { hint: 'give a longer --text, or a --target for a one-token prompt' });
  }
  const thresholds = { ...DEFAULT_THRESHOLDS, ...req.thresholds };
  const T = ids.length;
  const points = resolveHooks(model.config, req.hooks ?? ['*']);
  const probes = points.map((p) => tf.zeros(hookShape(model.config, p.site, 1, T, T)));
  const paramMap = req.params === false ? new Map<string, tf.Tensor>() : flattenParams(model.params);
  const paramNames = [...paramMap.keys()];
  const paramTensors = [...paramMap.values()];
  const acts = new Map<string, tf.Tensor>();
  const hooks: Record<string, HookFn> = {};
  points.forEach((p, i) => {
    hooks[p.name] = (x) => {
      acts.set(p.name, tf.keep(x));
      return tf.add(x, probes[i]!);
    };
  });
  let value: tf.Scalar | null = null;
  let grads: tf.Tensor[] = [];
  // The forward multiplies by the inference-only copy wUT when present; set it aside so that the
  // unembedding's gradient reaches wU (and wte when tied), then put it back.
  const wUT = model.params.wUT;
  try {
    delete model.params.wUT;
    let r;
    try {
      r = tf.valueAndGrads(() => lossOf(model, ids, obj, hooks))([...probes, ...paramTensors]);
    } finally {
      if (wUT) model.params.wUT = wUT;
    }
    value = r.value as tf.Scalar;
    grads = r.grads;
    const hookGrads = grads.slice(0, points.length);
    const pGrads = grads.slice(points.length);
    const [hs, ps, pn, dots] = await Promise.all([
      statsOf(hookGrads), statsOf(pGrads), statsOf(paramTensors),
      dotsOf(hookGrads, points.map((p) => acts.get(p.name)!)),
    ]);
    // masked attention scores hold the float32 minimum: their activation norm covers unmasked entries
    const actViews = points.map((p) => (p.site === 'attn.hook_attn_scores' ? unmasked(acts.get(p.name)!) : acts.get(p.name)!));
    const actStats = await statsOf(actViews);
    points.forEach((p, i) => p.site === 'attn.hook_attn_scores' && actViews[i]!.dispose());
    const hookRows: HookGradient[] = points.map((p, i) => {
      const size = hookGrads[i]!.size;
      return {
        name: p.name, site: p.site, layer: p.layer, shape: hookGrads[i]!.shape,
        gradNorm: hs[i]!.norm, gradRms: hs[i]!.norm / Math.sqrt(size), gradMaxAbs: hs[i]!.maxAbs, nonFinite: hs[i]!.nonFinite,
        actNorm: actStats[i]!.norm, gradXAct: dots[i]!, flags: [],
      };
    });
    const paramRows: ParamGradient[] = paramNames.map((name, i) => ({
      name, shape: pGrads[i]!.shape, gradNorm: ps[i]!.norm, gradRms: ps[i]!.norm / Math.sqrt(pGrads[i]!.size), gradMaxAbs: ps[i]!.maxAbs,
      nonFinite: ps[i]!.nonFinite, paramNorm: pn[i]!.norm, relative: ps[i]!.norm / pn[i]!.norm, flags: [],
    }));
    const groupOf = (name: string) => name.replace(/^(blocks|layers)\.\d+\./, '$1.*.');
    flagAll(hookRows.map((h) => ({ group: groupOf(h.name), rms: h.gradRms, norm: h.gradNorm, nonFinite: h.nonFinite })), thresholds).forEach((f, i) => (hookRows[i]!.flags = f));
    flagAll(paramRows.map((h) => ({ group: groupOf(h.name), rms: h.gradRms, norm: h.gradNorm, nonFinite: h.nonFinite })), thresholds).forEach((f, i) => (paramRows[i]!.flags = f));
    const byName = new Map(hookRows.map((h) => [h.name, h]));
    const layers: LayerSummary[] = Array.from({ length: model.config.nLayers }, (_, l) => ({
      layer: l,
      residGradNorm: byName.get(`blocks.${l}.hook_resid_pre`)?.gradNorm ?? null,
      attnGradXAct: byName.get(`blocks.${l}.hook_attn_out`)?.gradXAct ?? null,
      mlpGradXAct: byName.get(`blocks.${l}.hook_mlp_out`)?.gradXAct ?? null,
    }));
    const globalNorm = paramRows.length ? Math.hypot(...paramRows.map((p) => p.gradNorm)) : null;
    const flagged = [
      ...hookRows.filter((h) => h.flags.length).map((h) => ({ kind: 'hook' as const, name: h.name, flags: h.flags })),
      ...paramRows.filter((p) => p.flags.length).map((p) => ({ kind: 'param' as const, name: p.name, flags: p.flags })),
    ];
    const v = ((await value.data()) as Float32Array)[0]!;
    const description = obj.kind === 'cross-entropy' ? `mean cross-entropy of ${T - 1} next-token predictions` : `log p(${obj.target})${obj.foil === undefined ? '' : ` - log p(${obj.foil})`} at the last position`;
    return {
      objective: { ...obj, value: v, description }, hooks: hookRows, params: paramRows, layers, globalNorm, flagged, thresholds,
      info: { method: 'gradients', model: { dir: model.source.dir, arch: model.config.arch, fingerprint: model.source.fingerprint }, tokens: T, durationMs: Math.round(performance.now() - t0) },
    };
  } finally {
    value?.dispose();
    for (const t of [...grads, ...probes, ...acts.values()]) t.dispose();
  }
}
