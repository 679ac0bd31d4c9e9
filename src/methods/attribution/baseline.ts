/**
 * Baselines for integrated gradients and replacements for occlusion: the zero embedding, one
 * token's embedding at every position (pad, unk, eos, bos or any id), or custom ids.
 *
 * `parseBaseline` turns the CLI's `--baseline` text into a spec, resolving named tokens through
 * the config and the tokenizer and refusing what the model does not have, with the way out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import { checkTokenId } from './objective.js';
import type { BaselineSpec } from './types.js';

export const NAMED_BASELINES = ['zero', 'pad', 'unk', 'eos', 'bos'] as const;

const UNK_STRINGS = ['<unk>', '[UNK]', '<|unk|>'];
const PAD_STRINGS = ['<pad>', '[PAD]', '<|pad|>', '<|padding|>'];

/** The id of a named special token, or null when the model has none. */
export function namedTokenId(model: Model, name: 'pad' | 'unk' | 'eos' | 'bos'): number | null {
  const c = model.config;
  const fromTok = (strings: string[]) => {
    for (const s of strings) {
      const id = model.tokenizer?.tokenToId(s);
      if (id !== undefined && id !== null) return id;
    }
    return null;
  };
  switch (name) {
    case 'pad':
      return c.padTokenId ?? fromTok(PAD_STRINGS);
    case 'unk':
      return fromTok(UNK_STRINGS);
    case 'eos':
      return c.eosTokenIds[0] ?? null;
    case 'bos':
      return c.bosTokenId;
  }
}

/** `zero`, `pad`, `unk`, `eos`, `bos`, a token id, or `ids:1,2,3` (one id per prompt position). */
export function parseBaseline(model: Model, text: string, promptLength: number): BaselineSpec {
  const s = text.trim();
  if (s === 'zero') return { kind: 'zero' };
  if (s === 'pad' || s === 'unk' || s === 'eos' || s === 'bos') {
    const id = namedTokenId(model, s);
    if (id === null) {
      throw new LlmdbgError('invalid_argument', `--baseline ${s}: this model defines no ${s} token`, { hint: 'use --baseline zero, a token id (e.g. --baseline 0), or ids:1,2,3' });
    }
    checkTokenId(model, id, `--baseline ${s}`);
    return { kind: 'token', id, name: s };
  }
  if (/^\d+$/.test(s)) {
    const id = Number(s);
    checkTokenId(model, id, '--baseline');
    return { kind: 'token', id };
  }
  if (s.startsWith('ids:')) {
    const parts = s.slice(4).split(/[\s,]+/).filter((p) => p.length > 0);
    if (!parts.every((p) => /^\d+$/.test(p))) throw new LlmdbgError('invalid_argument', `--baseline ${s}: ids must be comma-separated integers`, { hint: 'e.g. --baseline ids:0,0,0' });
    const ids = parts.map(Number);
    checkBaselineIds(model, ids, promptLength);
    return { kind: 'ids', ids };
  }
  throw new LlmdbgError('invalid_argument', `--baseline ${JSON.stringify(text)} is not a baseline`, { hint: `use one of ${NAMED_BASELINES.join(', ')}, a token id, or ids:1,2,3` });
}

export function checkBaselineIds(model: Model, ids: readonly number[], length: number): void {
  if (ids.length !== length) {
    throw new LlmdbgError('invalid_argument', `the baseline has ${ids.length} ids but the input has ${length} positions`, { hint: `give exactly ${length} ids (one per input position)` });
  }
  for (const id of ids) checkTokenId(model, id, 'baseline id');
}

export function describeBaseline(b: BaselineSpec): string {
  if (b.kind === 'zero') return 'zero';
  if (b.kind === 'token') return b.name ? `${b.name} (id ${b.id})` : `token ${b.id}`;
  return `ids:${b.ids.join(',')}`;
}

// LIMITATION: a baseline replaces every position, BOS included (as Captum does); there is no
// option to keep special tokens fixed.
/** The baseline as embeddings [1, T, C] for an input of T positions. */
export function baselineEmbeds(model: Model, b: BaselineSpec, T: number): tf.Tensor3D {
  const C = model.config.dModel;
  return tf.tidy(() => {
    if (b.kind === 'zero') return tf.zeros([1, T, C]) as tf.Tensor3D;
    const ids = b.kind === 'token' ? new Array<number>(T).fill(b.id) : b.ids;
    if (b.kind === 'ids') checkBaselineIds(model, ids, T);
    return tf.gather(model.params.wte, tf.tensor2d(ids, [1, T], 'int32')) as unknown as tf.Tensor3D;
  });
}

/** The default occlusion replacement: pad, else unk, else eos, else the zero vector. */
export function defaultReplacement(model: Model): BaselineSpec {
  for (const name of ['pad', 'unk', 'eos'] as const) {
    const id = namedTokenId(model, name);
    if (id !== null && id >= 0 && id < model.config.vocabSize) return { kind: 'token', id, name };
  }
  return { kind: 'zero' };
}
