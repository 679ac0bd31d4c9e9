/**
 * Greedy Coordinate Gradient (Zou et al. 2023) on adversarial suffix or prefix tokens: per step,
 * the gradient w.r.t. the one-hot inputs at the adversarial positions gives each position's top-k
 * tokens (most negative, filtered vocabulary); a batch of candidates, each replacing one uniformly
 * chosen position with a uniformly chosen top-k token (seeded), is evaluated in one batched forward;
 * the best candidate becomes the current input even if worse (as the paper), and the best input
 * ever seen is returned. When the batch can hold every (position, top-k token) pair, every pair is
 * evaluated once instead of sampling.
 *
 * Non-goals: multi-prompt or multi-model (universal/transfer) GCG, candidate filtering by
 * re-tokenisation round trips.
 */
import { smallestK, tokenGradients } from './token-scores.js';
import { AttackAborted, better, byBetter, uniqueBy, type Node, type Outcome, type Search } from './search.js';
import type { AllowedVocab } from './vocab-filter.js';

// LIMITATION: attacks work on token ids: the adversarial text, decoded and re-encoded, may tokenize
// differently (no round-trip filter), so the ids in the result are what breaks the model.
interface Swap {
  a: number;
  v: number;
}

export async function gcg(s: Search, vocab: AllowedVocab, start: Node): Promise<Outcome> {
  const { plan, scorer } = s;
  const V = scorer.model.config.vocabSize;
  const A = plan.positions;
  let cur = start;
  let best = start;
  if (start.scored.success) return { best, stopReason: 'success' };
  try {
    for (;;) {
      const stop = s.stopBefore();
      if (stop) return { best, stopReason: stop };
      const { grad } = await s.gradient(cur.ids);
      const g = await tokenGradients(scorer.model, grad, A); // [A, V]
      const top = A.map((_, a) => smallestK(g.subarray(a * V, (a + 1) * V), plan.topK, (v) => vocab.mask[v] === 1));
      const open = A.map((_, a) => a).filter((a) => top[a]!.length > 0);
      let swaps: Swap[] = [];
      if (plan.batch >= open.reduce((n, a) => n + top[a]!.length, 0)) {
        for (const a of open) for (const v of top[a]!) swaps.push({ a, v });
      } else {
        for (let i = 0; i < plan.batch && open.length > 0; i++) {
          const a = open[plan.rng.int(open.length)]!;
          swaps.push({ a, v: top[a]![plan.rng.int(top[a]!.length)]! });
        }
      }
      swaps = uniqueBy(swaps.filter((w) => w.v !== cur.ids[A[w.a]!]), (w) => `${w.a}:${w.v}`).slice(0, s.remaining());
      if (swaps.length === 0) return { best, stopReason: 'converged' };
      const rows = swaps.map((w) => cur.ids.map((x, i) => (i === A[w.a] ? w.v : x)));
      const scored = await s.evaluate(rows);
      const next = rows.map((ids, i) => ({ ids, scored: scored[i]!, w: swaps[i]! })).sort(byBetter)[0]!;
      const position = A[next.w.a]!;
      const change = { kind: 'swap' as const, position, fromId: cur.ids[position]!, toId: next.w.v };
      cur = { ids: next.ids, scored: next.scored };
      s.record(change, cur);
      if (better(cur.scored, best.scored)) best = cur;
      if (best.scored.success) return { best, stopReason: 'success' };
    }
  } catch (e) {
    if (e instanceof AttackAborted) return { best, stopReason: 'aborted' };
    throw e;
  }
}
