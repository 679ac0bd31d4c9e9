/**
 * Input reduction (Feng et al. 2018) for generative models: repeatedly remove the token whose
 * removal keeps the original prediction (untargeted: the top-1 stays the answer; targeted: greedy
 * decoding still yields the target) with the highest goal probability. Every allowed position is
 * evaluated exactly in one batched forward per step; gradient saliency (smallest ||g_t|| first)
 * only ranks them when the query budget cannot cover all. Stops when no removal keeps the
 * prediction ('converged'): the result is then minimal for single removals.
 *
 * Non-goals: removing several tokens per step, beam search over removals.
 */
import { AttackAborted, uniqueBy, type Node, type Outcome, type Search } from './search.js';
import type { Scored } from './goal.js';

// LIMITATION: equal probabilities are broken by position order (or saliency order when the budget
// forced the ranking), not by saliency in general (identical inputs are evaluated once).
/** The original prediction is kept on an input with this score. */
export function keepsPrediction(s: Search, scored: Scored): boolean {
  return s.scorer.goal.kind === 'targeted' ? scored.success : !scored.success;
}

/** L2 norm of each position's gradient row. */
function saliency(grad: Float32Array, T: number, C: number): number[] {
  return [...Array(T).keys()].map((t) => Math.hypot(...grad.subarray(t * C, (t + 1) * C)));
}

export async function inputReduction(s: Search, start: Node): Promise<Outcome> {
  const { plan, scorer } = s;
  const removable = new Set(plan.positions);
  let cur = start;
  /** Original prompt position of each current position. */
  let origin = cur.ids.map((_, i) => i);
  try {
    for (;;) {
      const stop = s.stopBefore();
      if (stop) return { best: cur, stopReason: stop };
      if (cur.ids.length <= 1) return { best: cur, stopReason: 'converged' };
      let order = origin.map((o, j) => (removable.has(o) ? j : -1)).filter((j) => j >= 0);
      if (order.length > s.remaining()) {
        const { grad } = await s.gradient(cur.ids);
        const sal = saliency(grad, cur.ids.length, scorer.model.config.dModel);
        order = order.sort((a, b) => sal[a]! - sal[b]! || a - b);
      }
      const rows = uniqueBy(order.map((j) => ({ j, ids: cur.ids.filter((_, i) => i !== j) })), (r) => r.ids.join(',')).slice(0, s.remaining());
      if (rows.length === 0) return { best: cur, stopReason: 'converged' };
      const scored = await s.evaluate(rows.map((r) => r.ids));
      let pick = -1;
      scored.forEach((sc, i) => {
        if (keepsPrediction(s, sc) && (pick < 0 || sc.prob > scored[pick]!.prob)) pick = i;
      });
      if (pick < 0) return { best: cur, stopReason: 'converged' };
      const j = rows[pick]!.j;
      const change = { kind: 'remove' as const, position: origin[j]!, fromId: cur.ids[j]!, toId: null };
      cur = { ids: rows[pick]!.ids, scored: scored[pick]! };
      origin = origin.filter((_, i) => i !== j);
      s.record(change, cur);
    }
  } catch (e) {
    if (e instanceof AttackAborted) return { best: cur, stopReason: 'aborted' };
    throw e;
  }
}
