/**
 * Several vector-Jacobian products of one function, sharing ONE recorded forward pass.
 *
 * TF.js's public API (`tf.grads`) re-runs the forward for every cotangent. Attributing a whole
 * continuation needs one backward per generated token, all through the same forward, so here the
 * forward is recorded once on the engine's tape and the tape is walked backward once per
 * cotangent (what tfjs-core's own `Engine.gradients` does for one). This reads engine internals
 * of tfjs-core 4.x (`startTape`, `state.activeTape`); when they are missing, or when called inside
 * another gradient, it falls back to the public API (one forward per cotangent, same numbers).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import { registerGradients } from '../../engine/gradients.js';
import { pathNodes, type TapeEngine, type TapeNode } from '../../engine/tape.js';

// LIMITATION: tape reuse reads tfjs-core 4.x engine internals; a tfjs upgrade that renames them
// silently falls back to one forward per cotangent (correct, slower; `sharedForward` reports it).
function engineInternals(): TapeEngine | null {
  const e = tf.engine() as unknown as Partial<TapeEngine>;
  // `activeTape` is only created by the first gradient computation, so it is not checked here.
  const ok = typeof e.startTape === 'function' && typeof e.endTape === 'function' && typeof e.scopedRun === 'function' && typeof e.state?.gradientDepth === 'number';
  return ok ? (e as TapeEngine) : null;
}

/** Walks the path backward from `y` with cotangent `dy`; returns d<y, dy>/dx (call inside tidy). */
function backprop(nodes: TapeNode[], x: tf.Tensor, y: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const acc = new Map<number, tf.Tensor>([[y.id, dy]]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    const dys = n.outputs.map((o) => acc.get(o.id) ?? null);
    if (dys.every((d) => d === null)) continue;
    if (!n.gradient) throw new LlmdbgError('internal', `no gradient is registered for the ${n.kernelName} kernel`, { hint: 'this is a bug in llmdbg; please report it' });
    const grads = n.gradient(dys);
    for (const k in n.inputs) {
      const dx = tf.tidy(() => grads[k]!());
      const id = n.inputs[k]!.id;
      const cur = acc.get(id);
      acc.set(id, cur ? tf.add(cur, dx) : dx);
    }
  }
  return acc.get(x.id) ?? tf.zerosLike(x);
}

export interface Vjps {
  /** f(x), owned by the caller. */
  value: tf.Tensor;
  /** One gradient per cotangent, each shaped like x, owned by the caller. */
  grads: tf.Tensor[];
  /** Forward passes actually run (1 with tape reuse, else one per cotangent). */
  forwards: number;
}

/**
 * value = f(x) and grads[i] = d<f(x), dys[i]>/dx. `f` must build f(x) from `x` with tf ops; the
 * cotangents must have f(x)'s shape. Tensors created inside f are disposed.
 */
export function vjps(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, dys: readonly tf.Tensor[], opts: { reuseForward?: boolean } = {}): Vjps {
  registerGradients();
  const e = engineInternals();
  if (dys.length <= 1 || opts.reuseForward === false || !e || e.state.gradientDepth !== 0) {
    if (dys.length === 0) return { value: tf.tidy(() => f(x)), grads: [], forwards: 1 };
    const grads: tf.Tensor[] = [];
    let value: tf.Tensor | null = null;
    for (const dy of dys) {
      const r = tf.valueAndGrad(f)(x, dy);
      if (value) r.value.dispose();
      else value = r.value;
      grads.push(r.grad);
    }
    return { value: value!, grads, forwards: dys.length };
  }
  const y = e.scopedRun(() => e.startTape(), () => e.endTape(), () => e.tidy('forward', () => f(x)));
  const tape = e.state.activeTape;
  if (!Array.isArray(tape)) {
    y.dispose();
    throw new LlmdbgError('internal', 'the tfjs engine recorded no tape for the forward pass', { hint: 'this is a bug in llmdbg (tfjs engine internals changed); please report it' });
  }
  try {
    const nodes = pathNodes(tape, [x], y);
    const grads = dys.map((dy) => tf.tidy(() => backprop(nodes, x, y, dy)));
    return { value: y, grads, forwards: 1 };
  } catch (err) {
    y.dispose();
    throw err;
  } finally {
    for (const n of tape) for (const t of n.saved ?? []) t.dispose();
    e.state.activeTape = null;
  }
}
