/**
 * tfjs-core's gradient tape, as llmdbg reads it: the node type and the path filter that its
 * `Engine.gradients` applies before walking backward (tfjs-core 4.x, tape.ts getFilteredNodesXToY).
 * Used by the lean backward (src/engine/lean-backward.ts) and by the shared-forward
 * vector-Jacobian products of attribution (src/methods/attribution/vjp.ts).
 * Non-goals: walking the tape (each user has its own backward loop).
 */
import type * as tf from '@tensorflow/tfjs-core';

/** The parts of tfjs-core's (internal) tape node that llmdbg reads. */
export interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs-core's Engine that record and walk the tape (public on the instance, not in the typings). */
export interface TapeEngine {
  state: { activeTape: TapeNode[] | null; gradientDepth: number; activeScope: { id: number } | null };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
}

/** The tape nodes on a path from some x to y, in tape order, inputs pruned to those that depend on an x. */
export function pathNodes(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name]!.id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (!node.outputs.some((o) => leadToY.has(o.id))) continue;
    for (const name in node.inputs) leadToY.add(node.inputs[name]!.id);
    nodesToY.add(node.id);
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name]!.id)) inputs[name] = node.inputs[name]!;
    out.push({ ...node, inputs });
  }
  return out;
}
