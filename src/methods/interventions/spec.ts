/**
 * Intervention specs: JSON documents that say which activations to edit and how, so an edit can
 * be saved, shared and re-run (`llmdbg intervene --spec FILE`). This file holds the schema and
 * its validation; errors name the field path and the bad value (`spec.edits[2].heads[0] = 14 is
 * outside [0, 12)`). Non-goals: applying edits (apply.ts) and running models (compare.ts).
 */
import { LlmdbgError } from '../../errors.js';
import type { ModelConfig } from '../../formats/config.js';
import type { Site } from '../../model/hooks.js';

export const SPEC_FORMAT = 'llmdbg-intervention';
export const SPEC_VERSION = 1;

/** Short hook names accepted in specs, and the hook site each one edits. */
export const EDIT_HOOKS = {
  scores: 'attn.hook_attn_scores',
  pattern: 'attn.hook_pattern',
  q: 'attn.hook_q',
  k: 'attn.hook_k',
  v: 'attn.hook_v',
  z: 'attn.hook_z',
  attn_out: 'hook_attn_out',
  mlp_pre: 'mlp.hook_pre',
  mlp_post: 'mlp.hook_post',
  mlp_out: 'hook_mlp_out',
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  resid_post: 'hook_resid_post',
} as const satisfies Record<string, Site>;
export type EditHook = keyof typeof EDIT_HOOKS;

export const EDIT_OPS = ['scale', 'set', 'zero', 'add', 'mask', 'mean'] as const;
export type EditOp = (typeof EDIT_OPS)[number];

/** Prompts whose activations `mean` averages (every token of every prompt). */
export interface ReferenceSet {
  prompts?: string[];
  ids?: number[][];
}

export interface Edit {
  hook: EditHook;
  /** Layers to edit; default every layer. */
  layers?: number[];
  /** Heads (attention hooks only; kv heads for k and v); default every head. */
  heads?: number[];
  /** Query positions (sequence positions for non-attention hooks); negative counts from the prompt end. Default all. */
  positions?: number[];
  /** Key positions (scores and pattern only); negative counts from the prompt end. Default all. */
  keys?: number[];
  op: EditOp;
  /** Factor for scale; value for set; addend for add (a number, or a vector over the last axis for set/add). */
  value?: number | number[];
  /** Pattern only: divide each edited row by its new sum so it sums to 1 again. */
  renormalize?: boolean;
  /** Reference prompts for `mean` (falls back to the spec-level reference). */
  reference?: ReferenceSet;
}

export interface InterventionSpec {
  format?: typeof SPEC_FORMAT;
  version?: typeof SPEC_VERSION;
  name?: string;
  description?: string;
  reference?: ReferenceSet;
  edits: Edit[];
}

const ATTN_HEAD_HOOKS: readonly EditHook[] = ['scores', 'pattern', 'q', 'k', 'v', 'z'];
const KV_HOOKS: readonly EditHook[] = ['k', 'v'];
const SCORE_HOOKS: readonly EditHook[] = ['scores', 'pattern'];

function bad(path: string, msg: string, hint?: string): LlmdbgError {
  return new LlmdbgError('invalid_spec', `${path} ${msg}`, { hint: hint ?? 'see `llmdbg intervene --help` for the spec format', details: { path } });
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v));

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function intList(v: unknown, path: string, lo: number, hi: number, what: string): number[] {
  if (!Array.isArray(v)) throw bad(path, `= ${show(v)} must be an array of ${what}`);
  if (v.length === 0) throw bad(path, 'is empty', `omit ${path.split('.').pop()} to mean "all"`);
  return v.map((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x)) throw bad(`${path}[${i}]`, `= ${show(x)} is not an integer`);
    if (x < lo || x >= hi) throw bad(`${path}[${i}]`, `= ${x} is outside [${lo}, ${hi})`);
    return x;
  });
}

/** Width of the last axis a value vector must match, per hook. */
export function lastAxisSize(c: ModelConfig, hook: EditHook): number | null {
  switch (hook) {
    case 'q': case 'k': case 'v': case 'z': return c.dHead;
    case 'mlp_pre': case 'mlp_post': return c.dMlp;
    case 'scores': case 'pattern': return null;
    default: return c.dModel;
  }
}

function reference(v: unknown, path: string, c: ModelConfig): ReferenceSet {
  if (!isObj(v)) throw bad(path, `= ${show(v)} must be an object {prompts: [...]} or {ids: [[...]]}`);
  const out: ReferenceSet = {};
  for (const k of Object.keys(v)) if (k !== 'prompts' && k !== 'ids') throw bad(`${path}.${k}`, 'is not a field of a reference set', 'use prompts (texts) or ids (token id rows)');
  if (v['prompts'] !== undefined) {
    const p = v['prompts'];
    if (!Array.isArray(p) || p.length === 0 || !p.every((s) => typeof s === 'string' && s.length > 0)) throw bad(`${path}.prompts`, `= ${show(p)} must be a non-empty array of non-empty strings`);
    out.prompts = p as string[];
  }
  if (v['ids'] !== undefined) {
    const rows = v['ids'];
    if (!Array.isArray(rows) || rows.length === 0) throw bad(`${path}.ids`, `= ${show(rows)} must be a non-empty array of token id rows`);
    out.ids = rows.map((r, i) => intList(r, `${path}.ids[${i}]`, 0, c.vocabSize, 'token ids'));
  }
  if (!out.prompts && !out.ids) throw bad(path, 'has neither prompts nor ids');
  return out;
}

function edit(v: unknown, path: string, c: ModelConfig, specRef: ReferenceSet | undefined): Edit {
  if (!isObj(v)) throw bad(path, `= ${show(v)} must be an object`);
  const known = ['hook', 'layers', 'heads', 'positions', 'keys', 'op', 'value', 'renormalize', 'reference', 'comment'];
  for (const k of Object.keys(v)) if (!known.includes(k)) throw bad(`${path}.${k}`, 'is not a field of an edit', `fields: ${known.join(', ')}`);
  const hook = v['hook'];
  if (typeof hook !== 'string' || !(hook in EDIT_HOOKS)) throw bad(`${path}.hook`, `= ${show(hook)} is not an editable hook`, `choose one of ${Object.keys(EDIT_HOOKS).join(', ')}`);
  const h = hook as EditHook;
  const op = v['op'];
  if (typeof op !== 'string' || !(EDIT_OPS as readonly string[]).includes(op)) throw bad(`${path}.op`, `= ${show(op)} is not an operation`, `choose one of ${EDIT_OPS.join(', ')}`);
  const e: Edit = { hook: h, op: op as EditOp };
  if (v['layers'] !== undefined) e.layers = intList(v['layers'], `${path}.layers`, 0, c.nLayers, 'layer indices');
  if (v['heads'] !== undefined) {
    if (!ATTN_HEAD_HOOKS.includes(h)) throw bad(`${path}.heads`, `is only valid for attention hooks (${ATTN_HEAD_HOOKS.join(', ')}), not "${h}"`);
    e.heads = intList(v['heads'], `${path}.heads`, 0, KV_HOOKS.includes(h) ? c.nKvHeads : c.nHeads, KV_HOOKS.includes(h) ? 'kv head indices' : 'head indices');
  }
  if (v['positions'] !== undefined) e.positions = intList(v['positions'], `${path}.positions`, -c.nCtx, c.nCtx, 'positions');
  if (v['keys'] !== undefined) {
    if (!SCORE_HOOKS.includes(h)) throw bad(`${path}.keys`, `is only valid for scores and pattern, not "${h}"`);
    e.keys = intList(v['keys'], `${path}.keys`, -c.nCtx, c.nCtx, 'key positions');
  }
  const value = v['value'];
  if (e.op === 'scale' || e.op === 'set' || e.op === 'add') {
    if (value === undefined) throw bad(`${path}.value`, `is required for op "${e.op}"`);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw bad(`${path}.value`, `= ${show(value)} must be finite`);
      e.value = value;
    } else if (Array.isArray(value)) {
      const n = lastAxisSize(c, h);
      if (e.op === 'scale' || n === null) throw bad(`${path}.value`, `must be a number for op "${e.op}" on "${h}"`);
      if (value.length !== n) throw bad(`${path}.value`, `has ${value.length} numbers but the last axis of "${h}" has ${n}`);
      value.forEach((x, i) => {
        if (typeof x !== 'number' || !Number.isFinite(x)) throw bad(`${path}.value[${i}]`, `= ${show(x)} must be a finite number`);
      });
      e.value = value as number[];
    } else throw bad(`${path}.value`, `= ${show(value)} must be a number${e.op === 'scale' ? '' : ' or an array of numbers'}`);
  } else if (value !== undefined) throw bad(`${path}.value`, `is not used by op "${e.op}"`, 'remove it');
  if (v['renormalize'] !== undefined) {
    if (typeof v['renormalize'] !== 'boolean') throw bad(`${path}.renormalize`, `= ${show(v['renormalize'])} must be true or false`);
    if (h !== 'pattern' && v['renormalize']) throw bad(`${path}.renormalize`, `is only valid for hook "pattern", not "${h}"`);
    e.renormalize = v['renormalize'];
  }
  if (e.op === 'mean') {
    // LIMITATION: mean over reference prompts is defined for activations, not for attention scores/patterns (their shape depends on the prompt length).
    if (SCORE_HOOKS.includes(h)) throw bad(`${path}.op`, `= "mean" is not supported on "${h}"`, 'use mean on z, attn_out, mlp_out or a residual hook; edit patterns with set or scale');
    if (v['reference'] !== undefined) e.reference = reference(v['reference'], `${path}.reference`, c);
    else if (!specRef) throw bad(`${path}.reference`, 'is required for op "mean" (or give spec.reference)');
  } else if (v['reference'] !== undefined) throw bad(`${path}.reference`, `is only used by op "mean", not "${e.op}"`);
  return e;
}

/** Validates a parsed JSON spec against a model's sizes; returns a normalised copy. */
export function validateSpec(raw: unknown, c: ModelConfig): InterventionSpec {
  if (!isObj(raw)) throw bad('spec', `= ${show(raw)} must be a JSON object with an "edits" array`);
  const known = ['format', 'version', 'name', 'description', 'reference', 'edits'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw bad(`spec.${k}`, 'is not a field of an intervention spec', `fields: ${known.join(', ')}`);
  if (raw['format'] !== undefined && raw['format'] !== SPEC_FORMAT) throw bad('spec.format', `= ${show(raw['format'])} must be "${SPEC_FORMAT}"`);
  if (raw['version'] !== undefined && raw['version'] !== SPEC_VERSION) throw bad('spec.version', `= ${show(raw['version'])} is not supported`, `this llmdbg reads version ${SPEC_VERSION}`);
  for (const k of ['name', 'description'] as const) if (raw[k] !== undefined && typeof raw[k] !== 'string') throw bad(`spec.${k}`, `= ${show(raw[k])} must be a string`);
  const specRef = raw['reference'] === undefined ? undefined : reference(raw['reference'], 'spec.reference', c);
  const edits = raw['edits'];
  if (!Array.isArray(edits) || edits.length === 0) throw bad('spec.edits', `= ${show(edits)} must be a non-empty array of edits`);
  return {
    format: SPEC_FORMAT,
    version: SPEC_VERSION,
    ...(typeof raw['name'] === 'string' ? { name: raw['name'] } : {}),
    ...(typeof raw['description'] === 'string' ? { description: raw['description'] } : {}),
    ...(specRef ? { reference: specRef } : {}),
    edits: edits.map((e, i) => edit(e, `spec.edits[${i}]`, c, specRef)),
  };
}

/** The spec that zero-ablates the given heads (hook_z), the most common edit. */
export function headAblationSpec(heads: readonly { layer: number; head: number }[], op: 'zero' | 'mean' = 'zero', reference?: ReferenceSet): InterventionSpec {
  const byLayer = new Map<number, number[]>();
  for (const { layer, head } of heads) byLayer.set(layer, [...(byLayer.get(layer) ?? []), head]);
  return {
    format: SPEC_FORMAT,
    version: SPEC_VERSION,
    name: `${op === 'zero' ? 'zero' : 'mean'}-ablate ${heads.map((h) => `L${h.layer}H${h.head}`).join(' ')}`,
    ...(reference ? { reference } : {}),
    edits: [...byLayer].map(([layer, hs]) => ({ hook: 'z' as const, layers: [layer], heads: hs, op })),
  };
}
