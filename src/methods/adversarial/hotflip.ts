/**
 * HotFlip (Ebrahimi et al. 2018) for generative models: the gradient of the goal loss w.r.t. the
 * input embeddings ranks every (position, token) swap by its first-order loss change
 * (E[v] - E[x_t]) . g_t; per step each beam proposes its `candidates` best-estimated flips, all
 * are evaluated exactly in one batched forward, and the `beam` best inputs are kept. A position
 * is flipped at most once per beam. Stops on success, budget, or no improvement ('converged').
 *
 * Non-goals: insertions or deletions (see input-reduction.ts), character-level flips.
 */
import { flipEstimates, smallestK } from './token-scores.js';
import { AttackAborted, better, byBetter, uniqueBy, type Node, type Outcome, type Search } from './search.js';
import type { AllowedVocab } from './vocab-filter.js';
import type { AttackStepLog } from './types.js';

// LIMITATION: with beam > 1 a logged step's change is relative to the logged input's parent beam,
// which need not be the input logged one step earlier (the logged ids are always exact).
interface Beam extends Node {
  flipped: ReadonlySet<number>;
  change: AttackStepLog['change'] | null;
}

interface Candidate {
  parent: Beam;
  t: number;
  v: number;
  est: number;
}

export async function hotflip(s: Search, vocab: AllowedVocab, start: Node): Promise<Outcome> {
  const { plan, scorer } = s;
  const V = scorer.model.config.vocabSize;
  let beams: Beam[] = [{ ...start, flipped: new Set(), change: null }];
  let best: Node = start;
  if (start.scored.success) return { best, stopReason: 'success' };
  try {
    for (;;) {
      const stop = s.stopBefore();
      if (stop) return { best, stopReason: stop };
      const cands: Candidate[] = [];
      for (const b of beams) {
        const open = plan.positions.filter((t) => !b.flipped.has(t));
        if (open.length === 0) continue;
        const { grad } = await s.gradient(b.ids);
        const est = await flipEstimates(scorer.model, grad, b.ids, open); // [P, V]
        const picks = smallestK(est, plan.candidates, (i) => {
          const v = i % V;
          return vocab.mask[v] === 1 && v !== b.ids[open[Math.floor(i / V)]!];
        });
        for (const i of picks) cands.push({ parent: b, t: open[Math.floor(i / V)]!, v: i % V, est: est[i]! });
      }
      // Across beams: best estimates first (stable: beam, then estimate order), one row per distinct input.
      cands.sort((a, b) => a.est - b.est);
      const rows = uniqueBy(
        cands.map((c) => ({ c, ids: c.parent.ids.map((x, i) => (i === c.t ? c.v : x)) })),
        (r) => r.ids.join(','),
      ).slice(0, s.remaining());
      if (rows.length === 0) return { best, stopReason: 'converged' };
      const scored = await s.evaluate(rows.map((r) => r.ids));
      const next: Beam[] = rows.map((r, i) => ({
        ids: r.ids,
        scored: scored[i]!,
        flipped: new Set([...r.c.parent.flipped, r.c.t]),
        change: { kind: 'flip', position: r.c.t, fromId: r.c.parent.ids[r.c.t]!, toId: r.c.v },
      }));
      next.sort(byBetter);
      const top = next[0]!;
      if (!better(top.scored, best.scored)) return { best, stopReason: 'converged' };
      beams = next.slice(0, plan.beam);
      best = top;
      s.record(top.change!, top);
      if (best.scored.success) return { best, stopReason: 'success' };
    }
  } catch (e) {
    if (e instanceof AttackAborted) return { best, stopReason: 'aborted' };
    throw e;
  }
}
