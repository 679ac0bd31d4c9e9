/**
 * Replaying and diffing generation traces.
 *
 * `replayTrace` re-runs a recorded generation with the same model, prompt, options and seed and
 * checks every step bit for bit (id, probability, generator state). `diffTraces` finds the first
 * step where two traces choose different tokens and a per-step divergence between their recorded
 * candidate distributions.
 */
import type { Model } from '../model/model.js';
import { generate, type GenerationStep } from '../model/generate.js';
import { stepRecord, type Trace, type TraceStepRecord } from './trace.js';

export interface StepMismatch {
  step: number;
  field: 'id' | 'prob' | 'rng' | 'missing';
  recorded: unknown;
  replayed: unknown;
}

export interface ReplayReport {
  identical: boolean;
  steps: number;
  firstMismatch: StepMismatch | null;
  recordedTruncated: boolean;
}

function compareStep(a: TraceStepRecord, b: TraceStepRecord): StepMismatch | null {
  if (a.id !== b.id) return { step: a.step, field: 'id', recorded: a.id, replayed: b.id };
  if (!Object.is(a.prob, b.prob)) return { step: a.step, field: 'prob', recorded: a.prob, replayed: b.prob };
  if (JSON.stringify(a.rng) !== JSON.stringify(b.rng)) return { step: a.step, field: 'rng', recorded: a.rng, replayed: b.rng };
  return null;
}

export async function replayTrace(model: Model, trace: Trace, onStep?: (s: GenerationStep) => void): Promise<ReplayReport> {
  const o = trace.header.options;
  const n = trace.steps.length;
  const replayed: TraceStepRecord[] = [];
  await generate(model, trace.header.promptIds, { ...o, maxNewTokens: trace.truncated ? n : o.maxNewTokens }, (s) => {
    replayed.push(stepRecord(s));
    onStep?.(s);
  });
  let firstMismatch: StepMismatch | null = null;
  for (let i = 0; i < Math.max(n, replayed.length) && !firstMismatch; i++) {
    const a = trace.steps[i];
    const b = replayed[i];
    if (!a || !b) firstMismatch = { step: i, field: 'missing', recorded: a?.id ?? null, replayed: b?.id ?? null };
    else firstMismatch = compareStep(a, b);
  }
  return { identical: firstMismatch === null, steps: replayed.length, firstMismatch, recordedTruncated: trace.truncated };
}

export interface StepDivergence {
  step: number;
  idA: number | null;
  idB: number | null;
  /** KL(A || B) in nats over the union of both recorded candidate lists plus one bucket for the rest. */
  kl: number | null;
  /** |log p_A(chosen_A) - log p_B(chosen_B)|. */
  logprobDelta: number | null;
}

export interface TraceDiff {
  sameModel: boolean;
  samePrompt: boolean;
  sameOptions: boolean;
  /** First step where the chosen tokens differ (null when they never do). */
  firstDivergence: number | null;
  stepsA: number;
  stepsB: number;
  perStep: StepDivergence[];
}

const FLOOR = 1e-12;

function topKL(a: TraceStepRecord, b: TraceStepRecord): number {
  const pa = new Map(a.top);
  const pb = new Map(b.top);
  const ids = new Set([...pa.keys(), ...pb.keys()]);
  // mass of a token one trace did not record is unknown: bound it by that trace's smallest recorded probability
  const minA = Math.min(...a.top.map((x) => x[1]), 1);
  const minB = Math.min(...b.top.map((x) => x[1]), 1);
  let kl = 0;
  let restA = 1;
  let restB = 1;
  for (const id of ids) {
    const x = pa.get(id) ?? Math.min(minA, FLOOR + minA * 0.5);
    const y = pb.get(id) ?? Math.min(minB, FLOOR + minB * 0.5);
    restA -= x;
    restB -= y;
    kl += x * Math.log(Math.max(x, FLOOR) / Math.max(y, FLOOR));
  }
  restA = Math.max(restA, FLOOR);
  restB = Math.max(restB, FLOOR);
  kl += restA * Math.log(restA / restB);
  return Math.max(kl, 0);
}

export function diffTraces(a: Trace, b: Trace): TraceDiff {
  const n = Math.max(a.steps.length, b.steps.length);
  const perStep: StepDivergence[] = [];
  let firstDivergence: number | null = null;
  for (let i = 0; i < n; i++) {
    const sa = a.steps[i];
    const sb = b.steps[i];
    if (firstDivergence === null && sa?.id !== sb?.id) firstDivergence = i;
    perStep.push({
      step: i,
      idA: sa?.id ?? null,
      idB: sb?.id ?? null,
      kl: sa && sb ? topKL(sa, sb) : null,
      logprobDelta: sa && sb ? Math.abs(sa.logprob - sb.logprob) : null,
    });
  }
  const ha = a.header;
  const hb = b.header;
  return {
    sameModel: ha.model.fingerprint === hb.model.fingerprint && ha.model.arch === hb.model.arch,
    samePrompt: JSON.stringify(ha.promptIds) === JSON.stringify(hb.promptIds),
    sameOptions: JSON.stringify(ha.options) === JSON.stringify(hb.options),
    firstDivergence,
    stepsA: a.steps.length,
    stepsB: b.steps.length,
    perStep,
  };
}
