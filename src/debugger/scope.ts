/**
 * Tensor ownership for a forward pass that pauses: an async, paused run cannot sit inside tf.tidy,
 * so each synchronous slice of it (one generator resume) runs in a short engine scope that disposes
 * nothing and hands the tensors it created to an owner list, disposed when the pass ends or aborts.
 * The scope is closed before control returns to the caller, so other tf code run while paused
 * (tidy blocks, model.run) is never captured. Non-goals: tracking tensors created outside.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Runs `fn` synchronously and appends the live tensors it created to `owned` (none are disposed). */
export function collectTensors<T>(fn: () => T, owned: tf.Tensor[]): T {
  const engine = tf.engine();
  engine.startScope('llmdbg.debugger');
  const scope = engine.state.activeScope;
  let created: tf.Tensor[] = [];
  try {
    return fn();
  } finally {
    created = scope.track.filter((t) => !t.isDisposed && !t.kept);
    for (const t of created) owned.push(t);
    engine.endScope(created);
  }
}

/** Disposes every tensor in `owned` except those in `keep`; empties the list. */
export function disposeOwned(owned: tf.Tensor[], keep: ReadonlySet<tf.Tensor> = new Set()): void {
  for (const t of owned) if (!keep.has(t) && !t.isDisposed) t.dispose();
  owned.length = 0;
}
