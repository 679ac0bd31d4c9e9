/**
 * Held-out scores of a model for hardening: clean accuracy (greedy decoding reproduces the whole
 * expected answer, checked teacher-forced in one batched pass, which is the same test) and, per
 * attack, the success rate on the sampled items the model answers correctly.
 * Non-goals: the attacks themselves (src/methods/adversarial), training (harden.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hashString } from '../../engine/rng.js';
import type { Model } from '../../model/model.js';
import type { AttackRequest, AttackResult } from '../../methods/adversarial/types.js';
import type { HardenItem } from './data.js';

/** Attacks that try to change the answer (input-reduction keeps it, so it cannot be trained against). */
export type HardenAttack = 'gcg' | 'hotflip';
export const HARDEN_ATTACKS: readonly HardenAttack[] = ['gcg', 'hotflip'];

export type AttackFn = (model: Model, req: AttackRequest) => Promise<AttackResult>;

/** How every attack is run, in evaluation and when collecting training examples. */
export interface AttackSettings {
  /** Adversarial tokens added before the prompt (after BOS) or after it; the question stays intact. */
  advWhere: 'prefix' | 'suffix';
  advLen: number;
  /** Search steps per attack (gcg iterations, hotflip flips). */
  steps: number;
  /** gcg: top-k tokens per position and candidates per step; hotflip: beam and candidates (library defaults when absent). */
  topK?: number;
  batch?: number;
  beam?: number;
  candidates?: number;
}

export interface BehaviourScore {
  n: number;
  correct: number;
  accuracy: number;
}

export interface CleanScore extends BehaviourScore {
  byBehaviour: Record<string, BehaviourScore>;
}

export interface AttackItem {
  line: number;
  /** The attack's seed (recomputable: see `attackSeed`). */
  seed: number;
  success: boolean;
  /** The adversarial prompt the attack ended with. */
  advIds: number[];
  probBefore: number;
  probAfter: number;
  queries: number;
}

export interface AttackScore {
  /** Sampled items the model answered correctly, hence attacked. */
  attacked: number;
  successes: number;
  /** successes / attacked (0 when nothing was attacked). */
  successRate: number;
  /** Sampled items answered correctly and NOT broken, over the sample size. */
  robustAccuracy: number;
  meanQueries: number;
  ms: number;
  /** Attacked and broken items per behaviour. */
  byBehaviour: Record<string, { attacked: number; successes: number; successRate: number }>;
  items: AttackItem[];
}

export interface HeldOutScores {
  clean: CleanScore;
  /** Size of the attacked sample (the same lines before and after hardening). */
  sample: number;
  /** Line numbers of the sampled items. */
  sampleLines: number[];
  attacks: Partial<Record<HardenAttack, AttackScore>>;
}

/** Per item: does greedy decoding reproduce every answer token? Rows of equal length run as one batch. */
export async function answersCorrect(model: Model, items: readonly { promptIds: readonly number[]; answerIds: readonly number[] }[], rowsPerPass = 64): Promise<boolean[]> {
  const out = new Array<boolean>(items.length).fill(false);
  const byLen = new Map<number, number[]>();
  items.forEach((it, i) => {
    const L = it.promptIds.length + it.answerIds.length - 1;
    byLen.set(L, [...(byLen.get(L) ?? []), i]);
  });
  for (const [L, idx] of byLen) {
    for (let k = 0; k < idx.length; k += rowsPerPass) {
      const chunk = idx.slice(k, k + rowsPerPass);
      const rows = chunk.map((i) => [...items[i]!.promptIds, ...items[i]!.answerIds].slice(0, L));
      const top = tf.tidy(() => tf.argMax(model.run(rows).logits!, -1)); // [B, L]
      const data = (await top.data()) as Int32Array;
      top.dispose();
      chunk.forEach((i, r) => {
        const { promptIds: p, answerIds: a } = items[i]!;
        out[i] = a.every((id, j) => data[r * L + p.length - 1 + j] === id);
      });
    }
  }
  return out;
}

export function cleanScore(items: readonly HardenItem[], correct: readonly boolean[]): CleanScore {
  const byBehaviour: Record<string, BehaviourScore> = {};
  let n = 0, ok = 0;
  items.forEach((it, i) => {
    const b = (byBehaviour[it.behaviour] ??= { n: 0, correct: 0, accuracy: 0 });
    b.n++;
    n++;
    if (correct[i]) {
      b.correct++;
      ok++;
    }
  });
  for (const b of Object.values(byBehaviour)) b.accuracy = b.correct / b.n;
  return { n, correct: ok, accuracy: n > 0 ? ok / n : 0, byBehaviour };
}

/** The seed of one attack: a pure function of the run seed, the phase, the method and the item's line. */
export function attackSeed(seed: number, phase: string, method: HardenAttack, line: number): number {
  return hashString(`llmdbg-harden/${seed}/${phase}/${method}/${line}`);
}

/** The untargeted request that tries to move the model off the item's correct answer. */
export function attackRequest(item: HardenItem, method: HardenAttack, s: AttackSettings, seed: number): AttackRequest {
  const req: AttackRequest = {
    method, ids: item.promptIds, goal: { kind: 'untargeted', answerIds: item.answerIds },
    adv: { where: s.advWhere, length: s.advLen }, budget: { maxSteps: s.steps }, seed,
  };
  if (method === 'gcg') {
    if (s.topK !== undefined) req.topK = s.topK;
    if (s.batch !== undefined) req.batch = s.batch;
  } else {
    if (s.beam !== undefined) req.beam = s.beam;
    if (s.candidates !== undefined) req.candidates = s.candidates;
  }
  return req;
}

export interface EvaluateOptions {
  attacks: readonly HardenAttack[];
  settings: AttackSettings;
  /** Indices into `items` of the attacked sample. */
  sample: readonly number[];
  seed: number;
  /** Seed phase label (e.g. "eval"); the same label before and after gives the same attack seeds. */
  phase: string;
  attackFn: AttackFn;
  onItem?: (method: HardenAttack, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Clean accuracy on every item, then each attack on the sampled items answered correctly. */
export async function evaluateHeldOut(model: Model, items: readonly HardenItem[], o: EvaluateOptions): Promise<HeldOutScores> {
  const correct = await answersCorrect(model, items);
  const targets = o.sample.filter((i) => correct[i]);
  const attacks: HeldOutScores['attacks'] = {};
  for (const method of o.attacks) {
    const t0 = performance.now();
    const rows: AttackItem[] = [];
    for (const i of targets) {
      if (o.signal?.aborted) break;
      const it = items[i]!;
      const seed = attackSeed(o.seed, o.phase, method, it.line);
      const r = await o.attackFn(model, { ...attackRequest(it, method, o.settings, seed), ...(o.signal ? { signal: o.signal } : {}) });
      rows.push({ line: it.line, seed, success: r.success, advIds: r.adversarial.ids, probBefore: r.original.prob, probAfter: r.adversarial.prob, queries: r.queries });
      o.onItem?.(method, rows.length, targets.length);
    }
    const successes = rows.filter((r) => r.success).length;
    const byBehaviour: AttackScore['byBehaviour'] = {};
    rows.forEach((r, k) => {
      const b = (byBehaviour[items[targets[k]!]!.behaviour] ??= { attacked: 0, successes: 0, successRate: 0 });
      b.attacked++;
      if (r.success) b.successes++;
    });
    for (const b of Object.values(byBehaviour)) b.successRate = b.successes / b.attacked;
    attacks[method] = {
      attacked: rows.length, successes, successRate: rows.length > 0 ? successes / rows.length : 0,
      robustAccuracy: o.sample.length > 0 ? (rows.length - successes) / o.sample.length : 0,
      meanQueries: rows.length > 0 ? rows.reduce((a, r) => a + r.queries, 0) / rows.length : 0,
      ms: Math.round(performance.now() - t0), byBehaviour, items: rows,
    };
  }
  return { clean: cleanScore(items, correct), sample: o.sample.length, sampleLines: o.sample.map((i) => items[i]!.line), attacks };
}
