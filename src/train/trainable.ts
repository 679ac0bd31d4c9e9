/**
 * Model parameters as trainable tf variables: wrapping (`Params` rebuilt from the variables, so the
 * ordinary forward trains them), the weight-decay groups, and unwrapping into plain tensors.
 * Decay applies to the block matrices (wQKV, wO, wIn, wOut) and an untied unembedding; not to
 * norms, biases or the embedding tables (wte, wpe; also the head when it is tied to wte).
 * Non-goals: freezing subsets (every parameter trains).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../formats/config.js';
import { flattenParams, unflattenParams, type Params } from '../model/params.js';

let runCounter = 0;

export interface Trainable {
  /** Parameter name (flattenParams spelling) -> variable. */
  vars: Map<string, tf.Variable>;
  /** The same variables arranged as `Params` for the forward pass. */
  params: Params;
  /** Names that get weight decay. */
  decay: Set<string>;
  /** Variable name -> parameter name (tf names must be unique per process). */
  byVarName: Map<string, string>;
}

const DECAYED = /^(layers\.\d+\.(wQKV|wO|wIn|wOut)|wU)$/;

export function decayNames(names: Iterable<string>): Set<string> {
  return new Set([...names].filter((n) => DECAYED.test(n)));
}

/** Wraps copies of `p` as variables (the source tensors are left untouched). */
export function makeTrainable(c: ModelConfig, p: Params): Trainable {
  const run = ++runCounter;
  const vars = new Map<string, tf.Variable>();
  const byVarName = new Map<string, string>();
  for (const [name, t] of flattenParams(p)) {
    const vn = `llmdbg-train-${run}/${name}`;
    vars.set(name, tf.variable(t.dtype === 'float32' ? t : tf.cast(t, 'float32'), true, vn));
    byVarName.set(vn, name);
  }
  return { vars, params: unflattenParams(vars as Map<string, tf.Tensor>, c.nLayers, c.tieEmbeddings), decay: decayNames(vars.keys()), byVarName };
}

/** Plain tensors with the variables' current values (the caller owns them). */
export function snapshotParams(c: ModelConfig, t: Trainable): Params {
  const flat = new Map<string, tf.Tensor>();
  for (const [name, v] of t.vars) flat.set(name, tf.clone(v));
  return unflattenParams(flat, c.nLayers, c.tieEmbeddings);
}

export function disposeTrainable(t: Trainable): void {
  for (const v of t.vars.values()) v.dispose();
  t.vars.clear();
}
