/**
 * A backward pass that frees memory as it goes, installed in place of tfjs-core's
 * `Engine.gradients` (which `tf.grad`, `tf.valueAndGrad`, `tf.variableGrads` and the optimizers call).
 *
 * tfjs-core 4.22 keeps the gradient of every intermediate tensor, and every tensor a kernel saved
 * for the backward, until the whole backward has run: a GPT-2-small saliency of 64 tokens held
 * ~250 MB more at its end than it needs (bench/README.md). This is a port of its `gradients` and
 * `backpropagateGradients` / `getFilteredNodesXToY` (tape.ts) that calls the same gradient functions
 * in the same order with the same inputs, so every gradient is bit-identical, and in addition
 * disposes, as soon as a tape node has been processed,
 *   - the gradients of the node's outputs (nothing reads them again), and
 *   - the tensors the node saved for its gradient (its own kept clones).
 * A gradient tensor is disposed only when no other tensor's gradient is the same object and it
 * was created by this backward (never the caller's `dy`, a kept tensor or a gradient of an x).
 *
 * Non-goals: changing what is computed; checkpointing or recomputation.
 * Nested (higher-order) gradients, i.e. a call made while another tape is recording, run the stock
 * implementation unchanged. `LLMDBG_LEAN_BACKWARD=0` (read when installed) keeps the stock one everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { pathNodes, type TapeEngine } from './tape.js';

type Gradients = (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => { value: tf.Tensor; grads: tf.Tensor[] };

/** The engine as this file uses it: the tape, plus the `gradients` method it replaces. */
type EngineInternals = TapeEngine & { gradients: Gradients };

/** Tensor fields tfjs-core sets on every tensor it tracks. */
type Tracked = tf.Tensor & { scopeId?: number; kept?: boolean };

let installed = false;
let enabled = true;

/** Turns the lean backward on or off (off: tfjs-core's stock one); returns the previous setting. For tests and benchmarks. */
export function setLeanBackward(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}

/** Replaces the engine's `gradients` by the lean one; idempotent. */
export function installLeanBackward(): void {
  if (installed || process.env.LLMDBG_LEAN_BACKWARD === '0') return;
  installed = true;
  const engine = tf.engine() as unknown as EngineInternals;
  const stock = engine.gradients.bind(engine) as Gradients;
  engine.gradients = (f, xs, dy, allowNoGradients = false) => {
    // a nested call (inside another tape's forward) keeps tfjs-core's exact behaviour
    if (!enabled || engine.state.gradientDepth > 0) return stock(f, xs, dy, allowNoGradients);
    return leanGradients(engine, f, xs, dy, allowNoGradients);
  };
}

function leanGradients(engine: EngineInternals, f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor | undefined, allowNoGradients: boolean): { value: tf.Tensor; grads: tf.Tensor[] } {
  if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
  const tape = engine.state.activeTape ?? [];
  const filtered = pathNodes(tape, xs, y);
  if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
    throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
  }
  return engine.tidy('backward', () => {
    const scope = engine.state.activeScope?.id;
    const xIds = new Set(xs.map((x) => x.id));
    const grad = new Map<number, tf.Tensor>(); // tensor id -> accumulated gradient
    const refs = new Map<tf.Tensor, number>(); // gradient tensor -> number of map entries holding it
    const hold = (t: tf.Tensor): void => void refs.set(t, (refs.get(t) ?? 0) + 1);
    // Disposes t if no entry holds it and this backward created it (never dy, an x or a kept tensor).
    const release = (t: tf.Tensor): void => {
      const tt = t as Tracked;
      if (!refs.has(t) && t !== dy && !tt.kept && tt.scopeId === scope) t.dispose();
    };
    const drop = (t: tf.Tensor): void => {
      const n = (refs.get(t) ?? 0) - 1;
      if (n > 0) refs.set(t, n);
      else refs.delete(t);
      release(t);
    };
    const seed = dy ?? tf.ones(y.shape);
    grad.set(y.id, seed);
    hold(seed);

    for (let i = filtered.length - 1; i >= 0; i--) {
      const node = filtered[i]!;
      const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
      if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const inputGradients = node.gradient(dys);
      for (const inputName in node.inputs) {
        if (!(inputName in inputGradients)) {
          throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`);
        }
        const dx = engine.tidy(() => inputGradients[inputName]!());
        if (dx.dtype !== 'float32') {
          throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
        }
        const x = node.inputs[inputName]!;
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
        }
        const cur = grad.get(x.id);
        if (cur == null) {
          grad.set(x.id, dx);
          hold(dx);
        } else {
          const sum = tf.add(cur, dx);
          grad.set(x.id, sum);
          hold(sum);
          drop(cur);
          release(dx); // summed in: free it unless another entry holds the same tensor
        }
      }
      // this node's output gradients and saved tensors are never read again
      for (const o of node.outputs) {
        const g = grad.get(o.id);
        if (g == null || xIds.has(o.id)) continue;
        grad.delete(o.id);
        drop(g);
      }
      for (const s of node.saved ?? []) s.dispose();
    }
    const grads = xs.map((x) => grad.get(x.id)!);
    for (const node of tape) for (const s of node.saved ?? []) s.dispose(); // nodes off the x -> y path
    engine.state.activeTape = null;
    return { value: y, grads } as unknown as tf.TensorContainer;
  }) as unknown as { value: tf.Tensor; grads: tf.Tensor[] };
}
