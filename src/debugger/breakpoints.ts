/**
 * Breakpoints on hook points: by name or glob, layer, sequence position and generation step, with
 * an optional condition (conditions.ts) and a hit count (pause from the n-th hit on, like gdb's
 * `ignore`). Specs are plain data, validated against the model and the run so that impossible ones
 * (no matching hook point, a position or step the run never reaches, entropy on a non-pattern hook)
 * are refused up front with one line. Non-goals: watchpoints on weights, breakpoints inside kernels.
 */
import { LlmdbgError } from '../errors.js';
import type { ModelConfig } from '../formats/config.js';
import { resolveHooks, SITES, type Site } from '../model/hooks.js';
import { checkCondition, describeCondition, evaluateCondition, type Condition } from './conditions.js';

export interface BreakpointSpec {
  /** Hook name or glob (default `*`, or every attention pattern for an entropy condition). */
  hook?: string;
  layer?: number;
  /** Sequence position (0 = first prompt token). */
  position?: number;
  /** Generation step: 0 is the prefill pass over the prompt, k the pass that picks token k. */
  step?: number;
  condition?: Condition;
  /** Pause only from this hit on (default 1). */
  hitCount?: number;
}

export interface Breakpoint {
  id: number;
  spec: BreakpointSpec;
  /** Matching hook names. */
  names: ReadonlySet<string>;
  hits: number;
  enabled: boolean;
}

export interface BreakHit {
  id: number;
  /** What the condition found, or null for an unconditional breakpoint. */
  detail: string | null;
}

/** What the run looks like, for impossibility checks. */
export interface RunShape {
  promptLength: number;
  /** Forward passes the run makes at most (1 + max new tokens - 1, at least 1). */
  passes: number;
}

function impossible(msg: string, hint: string): LlmdbgError {
  return new LlmdbgError('invalid_condition', msg, { hint });
}

function checkInt(v: unknown, name: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new LlmdbgError('invalid_argument', `breakpoint ${name} ${JSON.stringify(v)} must be an integer >= ${min}`);
  return v;
}

/** Validates `spec` and resolves its hook names; throws one clear error when it could never fire. */
export function makeBreakpoint(id: number, spec: BreakpointSpec, c: ModelConfig, run: RunShape): Breakpoint {
  const condition = spec.condition === undefined ? undefined : checkCondition(spec.condition);
  const hook = spec.hook ?? (condition?.kind === 'entropy_below' ? 'blocks.*.attn.hook_pattern' : '*');
  let points = resolveHooks(c, [hook]);
  if (spec.layer !== undefined) {
    const layer = checkInt(spec.layer, 'layer', 0);
    if (layer >= c.nLayers) throw impossible(`layer ${layer} does not exist: the model has layers 0..${c.nLayers - 1}`, 'give a layer in range');
    points = points.filter((p) => p.layer === layer);
    if (points.length === 0) throw impossible(`no hook point matches ${hook} in layer ${layer}`, '`info hooks` lists the hook points; hook_embed and ln_final have no layer');
  }
  if (condition?.kind === 'entropy_below') {
    const other = points.find((p) => p.site !== 'attn.hook_pattern');
    if (other) throw impossible(`entropy applies to attention patterns only, but ${other.name} is not one`, 'break on blocks.*.attn.hook_pattern (or give no hook)');
  }
  const lastPos = run.promptLength - 1 + (run.passes - 1);
  if (spec.step !== undefined) {
    const step = checkInt(spec.step, 'step', 0);
    if (step >= run.passes) throw impossible(`step ${step} is never reached: this run makes ${run.passes} forward pass${run.passes === 1 ? '' : 'es'} (steps 0..${run.passes - 1})`, 'raise --max-new-tokens or pick an earlier step');
  }
  if (spec.position !== undefined) {
    const pos = checkInt(spec.position, 'position', 0);
    if (pos > lastPos) throw impossible(`position ${pos} is never processed: this run covers positions 0..${lastPos}`, 'prompt positions count from 0; each new token adds one');
    if (spec.step !== undefined) {
      const first = spec.step === 0 ? 0 : run.promptLength + spec.step - 1;
      const last = spec.step === 0 ? run.promptLength - 1 : first;
      if (pos < first || pos > last) throw impossible(`step ${spec.step} processes position${first === last ? ` ${first}` : `s ${first}..${last}`}, never ${pos}`, 'step 0 covers the prompt; step k > 0 covers position prompt_length + k - 1');
    }
  }
  const hitCount = spec.hitCount === undefined ? undefined : checkInt(spec.hitCount, 'hit count', 1);
  const clean: BreakpointSpec = { hook, ...(spec.layer !== undefined ? { layer: spec.layer } : {}), ...(spec.position !== undefined ? { position: spec.position } : {}), ...(spec.step !== undefined ? { step: spec.step } : {}), ...(condition ? { condition } : {}), ...(hitCount !== undefined ? { hitCount } : {}) };
  return { id, spec: clean, names: new Set(points.map((p) => p.name)), hits: 0, enabled: true };
}

export function describeBreakpoint(b: Breakpoint): string {
  const s = b.spec;
  const parts = [s.hook ?? '*'];
  if (s.layer !== undefined) parts.push(`layer ${s.layer}`);
  if (s.position !== undefined) parts.push(`pos ${s.position}`);
  if (s.step !== undefined) parts.push(`step ${s.step}`);
  if (s.condition) parts.push(`if ${describeCondition(s.condition)}`);
  if (s.hitCount !== undefined) parts.push(`hits ${s.hitCount}`);
  return parts.join(' ');
}

/** Whether the breakpoint's location (not its condition) matches an event. */
export function locationMatches(b: Breakpoint, ev: { name: string; step: number; posOffset: number; rows: number }): boolean {
  if (!b.enabled || !b.names.has(ev.name)) return false;
  if (b.spec.step !== undefined && b.spec.step !== ev.step) return false;
  const p = b.spec.position;
  return p === undefined || (p >= ev.posOffset && p < ev.posOffset + ev.rows);
}

/**
 * The breakpoints that fire at a hook event (location, then condition, then hit count); counts
 * hits. `data` is called at most once, only when a condition needs the values.
 */
export function evaluateBreakpoints(bps: Iterable<Breakpoint>, ev: { name: string; site: Site; shape: readonly number[]; posOffset: number; step: number }, data: () => Float32Array): BreakHit[] {
  const dims = SITES[ev.site].dims;
  const posAxis = dims.indexOf('pos');
  const rows = ev.shape[posAxis]!;
  const hits: BreakHit[] = [];
  for (const b of bps) {
    if (!locationMatches(b, { name: ev.name, step: ev.step, posOffset: ev.posOffset, rows })) continue;
    let detail: string | null = null;
    const c = b.spec.condition;
    if (c) {
      const pos = b.spec.position;
      const r = evaluateCondition(c, data(), ev.shape, {
        posAxis, posOffset: ev.posOffset, masked: ev.site === 'attn.hook_attn_scores', dims,
        ...(pos !== undefined ? { posIndex: pos - ev.posOffset } : {}),
      });
      if (!r.matched) continue;
      detail = r.detail;
    }
    b.hits++;
    if (b.hits >= (b.spec.hitCount ?? 1)) hits.push({ id: b.id, detail });
  }
  return hits;
}
