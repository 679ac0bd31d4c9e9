/**
 * Checks an attack request and resolves it into a plan: the starting ids (with the adversarial
 * tokens inserted), the positions the search may change, the goal with its default answer, and
 * every default filled in (what `info.parameters` reports).
 *
 * Non-goals: the searches; text handling (requests carry ids only).
 */
import { LlmdbgError } from '../../errors.js';
import { Rng } from '../../engine/rng.js';
import type { Model } from '../../model/model.js';
import { topPrediction } from '../attribution/objective.js';
import { ATTACK_DEFAULTS, ATTACK_METHODS, methodsWithOption, resolveAttackMethod, type MethodOption } from './registry.js';
import type { ResolvedGoal } from './goal.js';
import type { AllowedVocab } from './vocab-filter.js';
import type { AttackMethod, AttackRequest } from './types.js';

export interface AdvPlan {
  where: 'suffix' | 'prefix';
  length: number;
  initId: number;
  /** Positions of the adversarial tokens in `start`. */
  positions: number[];
}

export interface AttackPlan {
  method: AttackMethod;
  /** The request's ids. */
  prompt: number[];
  /** Where the search starts: the prompt with the adversarial tokens inserted (if any). */
  start: number[];
  /** Positions of `start` the search may change (flip, remove, or swap). */
  positions: number[];
  adv: AdvPlan | null;
  goal: ResolvedGoal;
  answerSource: 'model' | 'given' | null;
  maxSteps: number;
  maxQueries: number | null;
  maxTimeMs: number | null;
  beam: number;
  candidates: number;
  topK: number;
  batch: number;
  seed: number;
  memoryMB: number;
  /** The seeded generator, after the adversarial tokens' draw; the search continues its stream. */
  rng: Rng;
}

const OPTION_FIELDS: Record<MethodOption, keyof AttackRequest> = { positions: 'positions', adv: 'adv', beam: 'beam', candidates: 'candidates', topK: 'topK', batch: 'batch' };

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new LlmdbgError('invalid_argument', `${name} = ${JSON.stringify(value)} must be a positive integer`, { hint: `give ${name} >= 1 or leave it out for the default` });
  }
  return value;
}

function checkGoalIds(model: Model, ids: unknown, field: string): number[] {
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new LlmdbgError('invalid_goal', `goal.${field} must be a non-empty list of token ids, got ${JSON.stringify(ids)}`, {
      hint: field === 'targetIds' ? 'give the continuation to force (e.g. --target " Rome"), or use an untargeted goal' : 'leave answerIds out to attack the model\'s own prediction',
    });
  }
  const V = model.config.vocabSize;
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new LlmdbgError('token_out_of_range', `goal.${field}[${i}] = ${id} is outside the vocabulary [0, ${V})`, { hint: `ids must be integers from 0 to ${V - 1}`, details: { field, position: i, id, vocabSize: V } });
    }
  });
  return [...(ids as number[])];
}

/** Rejects method-specific fields the chosen method does not use. */
function checkOptions(method: AttackMethod, req: AttackRequest): void {
  const accepted = ATTACK_METHODS[method].options as readonly MethodOption[];
  for (const [opt, field] of Object.entries(OPTION_FIELDS) as [MethodOption, keyof AttackRequest][]) {
    if (req[field] !== undefined && !accepted.includes(opt)) {
      throw new LlmdbgError('invalid_argument', `${field} does not apply to the ${method} attack`, { hint: `${field} is for ${methodsWithOption(opt).join(', ')}; leave it out` });
    }
  }
}

function leadingBos(model: Model, ids: readonly number[]): boolean {
  return model.config.bosTokenId !== null && ids[0] === model.config.bosTokenId;
}

function resolvePositions(model: Model, req: AttackRequest): number[] {
  const T = req.ids.length;
  if (req.positions === undefined) {
    const all = [...Array(T).keys()].slice(leadingBos(model, req.ids) ? 1 : 0);
    if (all.length === 0) throw new LlmdbgError('invalid_argument', 'the prompt has no position that may change (it is only the BOS token)', { hint: 'give a longer prompt, or adversarial tokens with adv' });
    return all;
  }
  if (!Array.isArray(req.positions) || req.positions.length === 0) throw new LlmdbgError('invalid_argument', 'positions must be a non-empty list of prompt positions', { hint: `give positions from 0 to ${T - 1}, or leave them out for every position but a leading BOS` });
  const seen = new Set<number>();
  for (const p of req.positions) {
    if (!Number.isInteger(p) || p < 0 || p >= T) throw new LlmdbgError('invalid_argument', `position ${p} is outside the prompt [0, ${T})`, { hint: `positions are 0-based token indices from 0 to ${T - 1}` });
    if (seen.has(p)) throw new LlmdbgError('invalid_argument', `position ${p} is listed twice`, { hint: 'list each position once' });
    seen.add(p);
  }
  return [...seen].sort((a, b) => a - b);
}

function resolveAdv(model: Model, req: AttackRequest, method: AttackMethod, vocab: AllowedVocab, rng: Rng): AdvPlan | null {
  const a = req.adv ?? (method === 'gcg' ? ATTACK_DEFAULTS.adv : undefined);
  if (!a) return null;
  if (a.where !== 'suffix' && a.where !== 'prefix') throw new LlmdbgError('invalid_argument', `adv.where = ${JSON.stringify(a.where)} must be "suffix" or "prefix"`, { hint: 'choose suffix (after the prompt) or prefix (after a leading BOS)' });
  const length = positiveInt(a.length, 'adv.length', 0);
  const given = (a as { initId?: number }).initId;
  if (given !== undefined) {
    const V = model.config.vocabSize;
    if (!Number.isInteger(given) || given < 0 || given >= V) throw new LlmdbgError('token_out_of_range', `adv.initId ${given} is outside the vocabulary [0, ${V})`, { hint: `give an id from 0 to ${V - 1}, or leave it out for a seeded draw` });
  }
  const initId = given ?? rng.pick(vocab.ids);
  const at = a.where === 'suffix' ? req.ids.length : leadingBos(model, req.ids) ? 1 : 0;
  return { where: a.where, length, initId, positions: [...Array(length).keys()].map((i) => at + i) };
}

function resolveGoal(model: Model, req: AttackRequest): { goal: ResolvedGoal; source: 'model' | 'given' | null } | 'model-answer' {
  const g = req.goal as unknown;
  if (!g || typeof g !== 'object') throw new LlmdbgError('invalid_goal', `the goal must be {kind: "targeted", targetIds} or {kind: "untargeted"}, got ${JSON.stringify(g)}`, { hint: 'give a target continuation for a targeted attack, or none for an untargeted one' });
  const goal = g as { kind?: unknown; targetIds?: unknown; answerIds?: unknown };
  if (goal.kind === 'targeted') return { goal: { kind: 'targeted', target: checkGoalIds(model, goal.targetIds, 'targetIds') }, source: null };
  if (goal.kind === 'untargeted') {
    if (goal.answerIds === undefined) return 'model-answer';
    return { goal: { kind: 'untargeted', answer: checkGoalIds(model, goal.answerIds, 'answerIds')[0]! }, source: 'given' };
  }
  throw new LlmdbgError('invalid_goal', `unknown goal kind ${JSON.stringify(goal.kind)}`, { hint: 'goal.kind is "targeted" (force a continuation) or "untargeted" (change the answer)' });
}

/** Validates the request and resolves every default; `vocab` is the filtered vocabulary. */
export async function planAttack(model: Model, req: AttackRequest, vocab: AllowedVocab): Promise<AttackPlan> {
  const method = resolveAttackMethod(req.method);
  if (!Array.isArray(req.ids)) throw new LlmdbgError('invalid_argument', 'ids must be a list of token ids', { hint: 'give the prompt as token ids (including BOS when the model uses one)' });
  model.checkIds(req.ids);
  checkOptions(method, req);
  if (req.adv !== undefined && req.positions !== undefined) throw new LlmdbgError('invalid_argument', 'positions and adv do not combine: with adv only the added tokens change', { hint: 'leave positions out, or drop adv to flip prompt positions' });
  const seed = req.seed ?? ATTACK_DEFAULTS.seed;
  const rng = new Rng(seed); // validates the seed; the adv draw is its first use
  const r = resolveGoal(model, req);
  const adv = resolveAdv(model, req, method, vocab, rng);
  const start = adv ? [...req.ids.slice(0, adv.positions[0]), ...new Array<number>(adv.length).fill(adv.initId), ...req.ids.slice(adv.positions[0])] : [...req.ids];
  const positions = adv ? adv.positions : method === 'gcg' ? [] : resolvePositions(model, req);
  const target = r !== 'model-answer' && r.goal.kind === 'targeted' ? r.goal.target.length : 0;
  model.checkIds(start, target);
  const goal = r === 'model-answer' ? { goal: { kind: 'untargeted' as const, answer: (await topPrediction(model, req.ids)).id }, source: 'model' as const } : r;
  const b = req.budget ?? {};
  const spec = ATTACK_METHODS[method];
  const maxSteps = positiveInt(b.maxSteps, 'budget.maxSteps', spec.maxSteps === 'positions' ? positions.length : spec.maxSteps);
  const maxQueries = b.maxQueries === undefined ? null : positiveInt(b.maxQueries, 'budget.maxQueries', 0);
  if (b.maxTimeMs !== undefined && !(typeof b.maxTimeMs === 'number' && b.maxTimeMs > 0)) throw new LlmdbgError('invalid_argument', `budget.maxTimeMs = ${JSON.stringify(b.maxTimeMs)} must be a positive number of milliseconds`, { hint: 'give a time limit > 0 or leave it out' });
  const memoryMB = req.memoryMB ?? ATTACK_DEFAULTS.memoryMB;
  if (!(typeof memoryMB === 'number' && memoryMB > 0)) throw new LlmdbgError('invalid_argument', `memoryMB = ${JSON.stringify(memoryMB)} must be a positive number`, { hint: 'give a memory budget in MB, e.g. 1024' });
  return {
    method, prompt: [...req.ids], start, positions, adv,
    goal: goal.goal, answerSource: goal.source,
    maxSteps, maxQueries, maxTimeMs: b.maxTimeMs ?? null,
    beam: positiveInt(req.beam, 'beam', ATTACK_DEFAULTS.beam),
    candidates: positiveInt(req.candidates, 'candidates', ATTACK_DEFAULTS.candidates),
    topK: positiveInt(req.topK, 'topK', ATTACK_DEFAULTS.topK),
    batch: positiveInt(req.batch, 'batch', ATTACK_DEFAULTS.batch),
    seed, memoryMB, rng,
  };
}
