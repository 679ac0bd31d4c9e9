/**
 * The typed inventory of hook points: every intermediate tensor of the forward pass that can be
 * observed, cached or replaced, with TransformerLens names and shapes.
 *
 * One table (`SITES`) defines them; the hook list printed by `llmdbg inspect`, name validation,
 * the README list and the shapes in JSON results all come from it. Hooks live for one call only:
 * they are passed to a run, never registered on the model.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError, closest } from '../errors.js';
import type { ModelConfig } from '../formats/config.js';
import type { DimName } from '../engine/dims.js';

export interface SiteSpec {
  /** Dimension words of the tensor, batch first. */
  dims: readonly DimName[];
  perLayer: boolean;
  /** Only present for some architectures. */
  when?: (c: ModelConfig) => boolean;
  doc: string;
}

const rotary = (c: ModelConfig) => c.positional === 'rotary';

/** Hook sites in execution order. Per-layer sites are named `blocks.{L}.<site>`. */
export const SITES = {
  hook_embed: { dims: ['batch', 'pos', 'd_model'], perLayer: false, doc: 'token embedding rows' },
  hook_pos_embed: { dims: ['batch', 'pos', 'd_model'], perLayer: false, when: (c) => c.positional === 'learned', doc: 'learned position embeddings (GPT-2)' },
  hook_resid_pre: { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'residual stream entering the block' },
  'ln1.hook_normalized': { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'output of the attention norm, weight and bias applied' },
  'attn.hook_q': { dims: ['batch', 'pos', 'head', 'd_head'], perLayer: true, doc: 'queries, after bias, before rotary' },
  'attn.hook_k': { dims: ['batch', 'pos', 'kv_head', 'd_head'], perLayer: true, doc: 'keys of the new positions, before rotary' },
  'attn.hook_v': { dims: ['batch', 'pos', 'kv_head', 'd_head'], perLayer: true, doc: 'values of the new positions' },
  'attn.hook_rot_q': { dims: ['batch', 'pos', 'head', 'd_head'], perLayer: true, when: rotary, doc: 'queries after rotary embedding' },
  'attn.hook_rot_k': { dims: ['batch', 'pos', 'kv_head', 'd_head'], perLayer: true, when: rotary, doc: 'keys after rotary embedding' },
  'attn.hook_attn_scores': { dims: ['batch', 'head', 'pos', 'key_pos'], perLayer: true, doc: 'scaled q.k scores; masked keys hold the float32 minimum' },
  'attn.hook_pattern': { dims: ['batch', 'head', 'pos', 'key_pos'], perLayer: true, doc: 'attention weights (softmax of the scores)' },
  'attn.hook_z': { dims: ['batch', 'pos', 'head', 'd_head'], perLayer: true, doc: 'per-head weighted values, before the output projection' },
  hook_attn_out: { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'attention output after the output projection' },
  hook_resid_mid: { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'residual stream between attention and MLP' },
  'ln2.hook_normalized': { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'output of the MLP norm' },
  'mlp.hook_pre': { dims: ['batch', 'pos', 'd_mlp'], perLayer: true, doc: 'MLP pre-activation (the gate projection in gated MLPs)' },
  'mlp.hook_pre_linear': { dims: ['batch', 'pos', 'd_mlp'], perLayer: true, when: (c) => c.gatedMlp, doc: 'up projection of a gated MLP' },
  'mlp.hook_post': { dims: ['batch', 'pos', 'd_mlp'], perLayer: true, doc: 'MLP hidden activation (act(gate) * up when gated)' },
  hook_mlp_out: { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'MLP output' },
  hook_resid_post: { dims: ['batch', 'pos', 'd_model'], perLayer: true, doc: 'residual stream leaving the block' },
  'ln_final.hook_normalized': { dims: ['batch', 'pos', 'd_model'], perLayer: false, doc: 'output of the final norm, fed to the unembedding' },
} as const satisfies Record<string, SiteSpec>;

export type Site = keyof typeof SITES;

export interface HookPoint {
  name: string;
  site: Site;
  layer: number | null;
  dims: readonly DimName[];
}

export interface HookContext {
  name: string;
  site: Site;
  layer: number | null;
  /** Position of the first row of the tensor's `pos` axis in the whole sequence (non-zero when decoding with a KV cache). */
  posOffset: number;
}

/** Observe (return nothing) or replace (return a tensor of the same shape) an activation. */
export type HookFn = (x: tf.Tensor, ctx: HookContext) => tf.Tensor | void;

const SITE_NAMES = Object.keys(SITES) as Site[];

export function hookName(site: Site, layer: number | null): string {
  return layer === null ? site : `blocks.${layer}.${site}`;
}

/** Every hook point of a model, in execution order. */
export function hookPoints(c: ModelConfig): HookPoint[] {
  const out: HookPoint[] = [];
  const add = (site: Site, layer: number | null) => {
    const spec: SiteSpec = SITES[site];
    if (spec.when && !spec.when(c)) return;
    out.push({ name: hookName(site, layer), site, layer, dims: spec.dims });
  };
  add('hook_embed', null);
  add('hook_pos_embed', null);
  for (let l = 0; l < c.nLayers; l++) for (const s of SITE_NAMES) if (SITES[s].perLayer) add(s, l);
  add('ln_final.hook_normalized', null);
  return out;
}

/** Concrete sizes of a hook's dimensions for a given batch, new positions and total key positions. */
export function hookShape(c: ModelConfig, site: Site, b: number, t: number, s: number = t): number[] {
  const size: Record<DimName, number> = {
    batch: b, pos: t, key_pos: s, d_model: c.dModel, head: c.nHeads, kv_head: c.nKvHeads,
    d_head: c.dHead, d_mlp: c.dMlp, d_vocab: c.vocabSize, layer: c.nLayers,
  };
  return SITES[site].dims.map((d) => size[d]);
}

/**
 * Resolves names or glob patterns (`*` matches any run of characters, e.g. `blocks.*.hook_resid_post`)
 * to hook points; an unknown name is refused with the closest valid names.
 */
export function resolveHooks(c: ModelConfig, names: readonly string[]): HookPoint[] {
  const all = hookPoints(c);
  const byName = new Map(all.map((p) => [p.name, p]));
  const picked = new Map<string, HookPoint>();
  for (const n of names) {
    if (n.includes('*')) {
      const re = new RegExp('^' + n.split('*').map(escapeRe).join('.*') + '$');
      const hits = all.filter((p) => re.test(p.name));
      if (hits.length === 0) throw unknownHook(n, all);
      for (const h of hits) picked.set(h.name, h);
      continue;
    }
    const p = byName.get(n);
    if (!p) throw unknownHook(n, all);
    picked.set(n, p);
  }
  // keep execution order
  return all.filter((p) => picked.has(p.name));
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

function unknownHook(name: string, all: HookPoint[]): LlmdbgError {
  const suggestions = closest(name, all.map((p) => p.name), 3);
  return new LlmdbgError('unknown_hook', `unknown hook point "${name}"; closest: ${suggestions.join(', ')}`, {
    hint: '`llmdbg inspect` lists every hook point; patterns like blocks.*.hook_resid_post are accepted',
    details: { name, suggestions },
  });
}
