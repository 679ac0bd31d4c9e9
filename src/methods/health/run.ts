/**
 * Tensor health at every hook point of one forward pass over a prompt, in execution order, and the
 * first hook point whose tensor holds a NaN or an infinity (`firstNonFinite`), then the logits.
 * Caller hooks (`inject`) run before the health probe, so an injected value is what health sees.
 * Non-goals: generation loops (the debugger's watches cover steps), pausing (src/debugger/).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model, RunOptions } from '../../model/model.js';
import { resolveHooks, type HookFn, type Site } from '../../model/hooks.js';
import { checkHealthMode, nonFiniteCount, tensorHealth, type HealthMode, type TensorHealth } from './stats.js';

export interface HookHealth extends TensorHealth {
  hook: string;
  site: Site;
  layer: number | null;
  /** Index of the hook point in execution order. */
  order: number;
}

export interface FirstNonFinite {
  /** Hook name, or 'logits' when every hook point is finite but the logits are not. */
  hook: string;
  layer: number | null;
  nanCount: number;
  infCount: number;
}

export interface HealthReport {
  mode: HealthMode;
  ids: number[];
  rows: HookHealth[];
  logits: TensorHealth;
  /** Null when none (or when mode is `shape`: see `nonFiniteChecked`). */
  firstNonFinite: FirstNonFinite | null;
  nonFiniteChecked: boolean;
  info: { method: 'health'; mode: HealthMode; hooks: string[]; logits: 'all' | 'last' | 'none'; model: { dir: string; arch: string; fingerprint: string }; durationMs: number };
}

export interface HealthRunOptions {
  mode?: HealthMode;
  /** Hook names or patterns to report (default every hook point). */
  hooks?: readonly string[];
  /** Hooks applied before health is measured (e.g. to inject a value). */
  inject?: RunOptions['hooks'];
  /** Logits measured: the last position (default; the all-position unembedding is costly on WASM), all, or none. */
  logits?: 'all' | 'last' | 'none';
}

function asList(f: HookFn | HookFn[] | undefined): HookFn[] {
  return f === undefined ? [] : Array.isArray(f) ? f : [f];
}

export function firstNonFinite(rows: readonly HookHealth[], logits: TensorHealth): FirstNonFinite | null {
  for (const r of rows) {
    if (nonFiniteCount(r) > 0) return { hook: r.hook, layer: r.layer, nanCount: r.nanCount ?? 0, infCount: (r.posInfCount ?? 0) + (r.negInfCount ?? 0) };
  }
  if (nonFiniteCount(logits) > 0) return { hook: 'logits', layer: null, nanCount: logits.nanCount ?? 0, infCount: (logits.posInfCount ?? 0) + (logits.negInfCount ?? 0) };
  return null;
}

/** Health of every chosen hook point for one sequence `ids` (batch of 1). */
export function healthRun(model: Model, ids: readonly number[], opts: HealthRunOptions = {}): HealthReport {
  const mode = checkHealthMode(opts.mode ?? 'full');
  model.checkIds(ids);
  const patterns = [...(opts.hooks ?? ['*'])];
  const chosen = new Set(resolveHooks(model.config, patterns).map((p) => p.name));
  const order = new Map(model.hooks.map((h, i) => [h.name, i]));
  const rows: HookHealth[] = [];
  const probe: HookFn = (x, ctx) => {
    if (!chosen.has(ctx.name)) return;
    const data = mode === 'shape' ? [] : x.dataSync();
    rows.push({ hook: ctx.name, site: ctx.site, layer: ctx.layer, order: order.get(ctx.name)!, ...tensorHealth(data, x.shape, mode, { masked: ctx.site === 'attn.hook_attn_scores' }) });
  };
  const hooks: NonNullable<RunOptions['hooks']> = { ...(opts.inject ?? {}), '*': [...asList(opts.inject?.['*']), probe] };
  const t0 = performance.now();
  let logits: TensorHealth = { shape: [], size: 0 };
  tf.tidy(() => {
    const input = tf.tensor2d([...ids], [1, ids.length], 'int32');
    const out = model.forward({ ids: input }, { hooks, logits: opts.logits ?? 'last' });
    const l = out.logits; // [B, T or 1, V]
    if (l) logits = tensorHealth(mode === 'shape' ? [] : l.dataSync(), l.shape, mode);
  });
  const checked = mode !== 'shape';
  return {
    mode,
    ids: [...ids],
    rows,
    logits,
    firstNonFinite: checked ? firstNonFinite(rows, logits) : null,
    nonFiniteChecked: checked,
    info: {
      method: 'health', mode, hooks: patterns, logits: opts.logits ?? 'last',
      model: { dir: model.source.dir, arch: model.config.arch, fingerprint: model.source.fingerprint },
      durationMs: Math.round((performance.now() - t0) * 10) / 10,
    },
  };
}
