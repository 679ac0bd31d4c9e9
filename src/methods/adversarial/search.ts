/**
 * What every attack search shares: the budget (steps, candidate queries, time, abort), counting of
 * evaluated candidates and gradients, the per-step log with progress reports, and the ordering of
 * inputs (a successful input beats an unsuccessful one, then the lower loss wins).
 *
 * Non-goals: choosing candidates (the method files), the loss itself (goal.ts).
 */
import { GoalScorer, type Scored } from './goal.js';
import type { AttackPlan } from './validate.js';
import type { AttackProgress, AttackResult, AttackStepLog } from './types.js';

export type StopReason = AttackResult['stopReason'];

/** An input the search has evaluated. */
export interface Node {
  ids: number[];
  scored: Scored;
}

/** How a search ended: the best input it found and why it stopped. */
export interface Outcome {
  best: Node;
  stopReason: StopReason;
}

/** a is a better input for the attacker than b: success first, then lower loss. */
export function better(a: Scored, b: Scored): boolean {
  if (a.success !== b.success) return a.success;
  return a.loss < b.loss;
}

/** Thrown between batches when the request's signal fires; `attack` turns it into stopReason 'aborted'. */
/** Sort comparator from `better`: better inputs first (Array.sort is stable, so ties keep their order). */
export function byBetter(a: Node, b: Node): number {
  return better(a.scored, b.scored) ? -1 : better(b.scored, a.scored) ? 1 : 0;
}

export class AttackAborted extends Error {
  constructor() {
    super('attack aborted');
  }
}

export class Search {
  queries = 0;
  gradients = 0;
  readonly log: AttackStepLog[] = [];
  private readonly t0 = performance.now();

  constructor(
    readonly plan: AttackPlan,
    readonly scorer: GoalScorer,
    private readonly signal?: AbortSignal,
    private readonly onProgress?: (p: AttackProgress) => void,
  ) {}

  elapsed(): number {
    return performance.now() - this.t0;
  }

  /** Candidate evaluations left (Infinity without a query budget). */
  remaining(): number {
    return this.plan.maxQueries === null ? Infinity : Math.max(0, this.plan.maxQueries - this.queries);
  }

  // LIMITATION: maxTimeMs is checked between steps only: a step that has started runs to its end
  // (only the abort signal interrupts it, between batches).
  /** Why the search must stop before its next step, or null to go on. */
  stopBefore(): StopReason | null {
    if (this.signal?.aborted) return 'aborted';
    if (this.log.length >= this.plan.maxSteps) return 'steps';
    if (this.remaining() <= 0) return 'queries';
    if (this.plan.maxTimeMs !== null && this.elapsed() >= this.plan.maxTimeMs) return 'time';
    return null;
  }

  /** Scores candidate inputs in batched forwards, counting each row as a query. */
  async evaluate(rows: readonly (readonly number[])[]): Promise<Scored[]> {
    if (rows.length === 0) return [];
    const chunk = this.scorer.chunkRows(rows[0]!.length, rows.length);
    const out: Scored[] = [];
    for (let s = 0; s < rows.length; s += chunk) {
      if (this.signal?.aborted) throw new AttackAborted();
      const part = rows.slice(s, s + chunk);
      out.push(...(await this.scorer.evaluate(part)));
      this.queries += part.length;
    }
    return out;
  }

  async gradient(ids: readonly number[]): Promise<{ loss: number; grad: Float32Array }> {
    const g = await this.scorer.lossAndGrad(ids);
    this.gradients++;
    return g;
  }

  /** Logs a completed step and reports progress. */
  record(change: AttackStepLog['change'], node: Node): void {
    const entry: AttackStepLog = { step: this.log.length + 1, change, ids: [...node.ids], loss: node.scored.loss, prob: node.scored.prob, queries: this.queries, ms: Math.round(this.elapsed()) };
    this.log.push(entry);
    this.onProgress?.({ step: entry.step, maxSteps: this.plan.maxSteps, queries: this.queries, prob: entry.prob });
  }
}

/** Unique rows by content, keeping the first occurrence (candidate order is meaningful). */
export function uniqueBy<T>(items: readonly T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
