/**
 * The protocol between the forward pass and whoever drives it: at every hook point the forward
 * generator yields a `HookEvent` and resumes with either nothing (keep the tensor) or a
 * replacement of the same shape. A synchronous driver runs hooks and caches; the debugger drives
 * the same generator one hook point at a time.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../errors.js';
import type { Site } from './hooks.js';

export interface HookEvent {
  name: string;
  site: Site;
  layer: number | null;
  tensor: tf.Tensor;
  /** Sequence position of the tensor's first `pos` row (non-zero when decoding with a KV cache). */
  posOffset: number;
}

export type Visit = (site: Site, x: tf.Tensor) => Generator<HookEvent, tf.Tensor, tf.Tensor | void>;

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A visit function for one layer (or none): yields the event and validates any replacement. */
export function visitor(layer: number | null, posOffset: number): Visit {
  return function* visit(site, x) {
    const name = layer === null ? site : `blocks.${layer}.${site}`;
    const replacement = yield { name, site, layer, tensor: x, posOffset };
    if (!replacement) return x;
    if (!sameShape(replacement.shape, x.shape)) {
      throw new LlmdbgError('hook_shape_mismatch', `hook ${name}: the replacement has shape [${replacement.shape}] but the activation has shape [${x.shape}]`, {
        hint: 'a hook must return a tensor of the same shape as the one it received, or nothing',
        details: { hook: name, expected: x.shape, actual: replacement.shape },
      });
    }
    return replacement.dtype === 'float32' ? replacement : tf.cast(replacement, 'float32');
  };
}
