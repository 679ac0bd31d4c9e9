/**
 * Direct logit attribution: how much each head, each MLP, the embeddings and the biases write
 * directly into a target's logit (or a target-minus-foil logit difference) at one position,
 * through the final norm with its scale frozen at the actual final residual (as TransformerLens
 * does). The parts sum exactly to the logit. Non-goal: indirect effects (use patching for those).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';

export interface DlaOptions {
  /** Default: the model's top token at the position. */
  target?: number;
  foil?: number;
  /** Default: the last position. */
  position?: number;
}

export interface DlaResult {
  position: number;
  target: { id: number; token: string };
  foil: { id: number; token: string } | null;
  /** Per layer and head [L][H]. */
  heads: number[][];
  mlps: number[];
  /** Output-projection bias of each attention layer (0 without biases). */
  attnBias: number[];
  embed: number;
  posEmbed: number;
  /** Final-norm bias and unembedding bias terms. */
  constant: number;
  /** The model's actual logit (difference); equals the sum of all parts. */
  logit: number;
  sum: number;
  info: { method: 'direct_logit_attribution'; normScale: number; durationMs: number; model: { dir: string; fingerprint: string } };
}

// LIMITATION: the final norm's scale is frozen at the actual run (linearisation); the parts are direct
// effects only, and q/k/v biases reach the logit through the heads' outputs, not as separate parts.
export async function directLogitAttribution(model: Model, ids: readonly number[], o: DlaOptions = {}): Promise<DlaResult> {
  const t0 = performance.now();
  model.checkIds(ids);
  const c = model.config;
  const p = model.params;
  const T = ids.length;
  const pos = o.position ?? T - 1;
  if (!Number.isInteger(pos) || pos < 0 || pos >= T) throw new LlmdbgError('invalid_argument', `position ${pos} is outside [0, ${T})`);
  const L = c.nLayers, H = c.nHeads, D = c.dHead, C = c.dModel;
  const names = ['hook_embed', ...(c.positional === 'learned' ? ['hook_pos_embed'] : []), 'blocks.*.attn.hook_z', 'blocks.*.hook_mlp_out', `blocks.${L - 1}.hook_resid_post`];
  const r = model.run([ids], { cache: names, logits: 'all' });
  const host = async (t: tf.Tensor, rowLen: number) => {
    const row = tf.tidy(() => tf.reshape(tf.slice(tf.reshape(t, [T, rowLen]), [pos, 0], [1, rowLen]), [rowLen]));
    const d = (await row.data()) as Float32Array;
    row.dispose();
    return d;
  };
  try {
    const V = c.vocabSize;
    const logitsRow = await host(r.logits!, V);
    const target = o.target ?? logitsRow.reduce((b, x, i, a) => (x > a[b]! ? i : b), 0);
    for (const [what, id] of [['target', target], ['foil', o.foil]] as const) {
      if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= V)) throw new LlmdbgError('token_out_of_range', `${what} token ${id} is outside the vocabulary [0, ${V})`);
    }
    // direction in residual space: lnF.w * (W_U[target] - W_U[foil])
    const dirT = tf.tidy(() => {
      const rowOf = (id: number) => tf.reshape(tf.slice(p.wU, [id, 0], [1, C]), [C]);
      const d = o.foil === undefined ? rowOf(target) : tf.sub(rowOf(target), rowOf(o.foil));
      return tf.concat([tf.mul(d, p.lnF.w), p.lnF.b ? tf.reshape(tf.sum(tf.mul(d, p.lnF.b)), [1]) : tf.zeros([1])]);
    });
    const dirAll = (await dirT.data()) as Float32Array;
    dirT.dispose();
    const dir = dirAll.subarray(0, C);
    let constant = dirAll[C]!;
    if (p.bU) {
      const bu = (await p.bU.data()) as Float32Array;
      constant += bu[target]! - (o.foil === undefined ? 0 : bu[o.foil]!);
    }
    const xf = await host(r.cache[`blocks.${L - 1}.hook_resid_post`]!, C);
    const mean = c.norm === 'layernorm' ? xf.reduce((a, b) => a + b, 0) / C : 0;
    const scale = Math.sqrt(xf.reduce((a, b) => a + (b - mean) * (b - mean), 0) / C + c.normEps);
    const proj = (v: ArrayLike<number>, off = 0) => {
      let m = 0;
      if (c.norm === 'layernorm') {
        for (let i = 0; i < C; i++) m += v[off + i]!;
        m /= C;
      }
      let s = 0;
      for (let i = 0; i < C; i++) s += (v[off + i]! - m) * dir[i]!;
      return s / scale;
    };
    const heads: number[][] = [];
    const mlps: number[] = [];
    const attnBias: number[] = [];
    for (let l = 0; l < L; l++) {
      const lp = p.layers[l]!;
      const outT = tf.tidy(() => {
        const z = tf.reshape(tf.slice(r.cache[`blocks.${l}.attn.hook_z`]!, [0, pos, 0, 0], [1, 1, H, D]), [H, 1, D]);
        return tf.matMul(z, tf.reshape(lp.wO, [H, D, C])); // [H, 1, C]: each head's write into the residual
      });
      const outs = (await outT.data()) as Float32Array;
      outT.dispose();
      heads.push(Array.from({ length: H }, (_, h) => proj(outs, h * C)));
      mlps.push(proj(await host(r.cache[`blocks.${l}.hook_mlp_out`]!, C)));
      attnBias.push(lp.bO ? proj((await lp.bO.data()) as Float32Array) : 0);
    }
    const embed = proj(await host(r.cache['hook_embed']!, C));
    const posEmbed = c.positional === 'learned' ? proj(await host(r.cache['hook_pos_embed']!, C)) : 0;
    const sum = heads.flat().reduce((a, b) => a + b, 0) + mlps.reduce((a, b) => a + b, 0) + attnBias.reduce((a, b) => a + b, 0) + embed + posEmbed + constant;
    const logit = logitsRow[target]! - (o.foil === undefined ? 0 : logitsRow[o.foil]!);
    const piece = (id: number) => model.tokenPieces([id])[0]!;
    return {
      position: pos, target: { id: target, token: piece(target) }, foil: o.foil === undefined ? null : { id: o.foil, token: piece(o.foil) },
      heads, mlps, attnBias, embed, posEmbed, constant, logit, sum,
      info: { method: 'direct_logit_attribution', normScale: scale, durationMs: Math.round(performance.now() - t0), model: { dir: model.source.dir, fingerprint: model.source.fingerprint } },
    };
  } finally {
    r.logits?.dispose();
    for (const t of Object.values(r.cache)) t.dispose();
  }
}
