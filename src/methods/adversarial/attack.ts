/**
 * `attack(model, request)`: finds inputs that break a generative model (hotflip, input-reduction,
 * gcg), within budgets, seeded, and returns one JSON-serialisable result: the original and the
 * adversarial input with the goal probability before and after, success, cost, a per-step log and
 * provenance in `info`. Same request, same result (except timings).
 *
 * Non-goals: printing and text parsing (src/cli), hardening (src/methods/adversarial training).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import { backendInfo } from '../../engine/backend.js';
import type { Model } from '../../model/model.js';
import { GoalScorer } from './goal.js';
import { gcg } from './gcg.js';
import { hotflip } from './hotflip.js';
import { inputReduction, keepsPrediction } from './input-reduction.js';
import { resolveAttackMethod } from './registry.js';
import { Search, type Node, type Outcome } from './search.js';
import { planAttack, type AttackPlan } from './validate.js';
import { allowedVocab, type AllowedVocab } from './vocab-filter.js';
import type { AttackRequest, AttackResult } from './types.js';

/** The resolved parameters that apply to the plan's method (what `info.parameters` reports). */
function parameters(plan: AttackPlan, req: AttackRequest, vocab: AllowedVocab): Record<string, unknown> {
  const m = plan.method;
  return {
    goal: plan.goal.kind,
    ...(plan.goal.kind === 'untargeted' ? { answer: plan.answerSource === 'model' ? 'model top-1 on the original prompt' : 'given' } : {}),
    ...(m !== 'gcg' && !plan.adv ? { positions: plan.positions } : {}),
    ...(plan.adv ? { adv: { where: plan.adv.where, length: plan.adv.length, initId: plan.adv.initId, initSource: (req.adv as { initId?: number } | undefined)?.initId === undefined ? 'seeded draw' : 'given', positions: plan.adv.positions } } : {}),
    ...(m === 'hotflip' ? { beam: plan.beam, candidates: plan.candidates } : {}),
    ...(m === 'gcg' ? { topK: plan.topK, batch: plan.batch } : {}),
    budget: { maxSteps: plan.maxSteps, maxQueries: plan.maxQueries, maxTimeMs: plan.maxTimeMs },
    vocab: { allowSpecial: vocab.summary.allowSpecial, printableOnly: vocab.summary.printableOnly, allow: req.vocab?.allow ?? null, deny: req.vocab?.deny ?? [] },
    seed: plan.seed,
    memoryMB: plan.memoryMB,
  };
}

function checkReducible(search: Search, plan: AttackPlan, original: Node): void {
  if (keepsPrediction(search, original.scored)) return;
  if (plan.goal.kind === 'targeted') {
    throw new LlmdbgError('invalid_goal', 'input-reduction keeps the original prediction, but greedy decoding of the prompt does not yield the target', {
      hint: 'use an untargeted goal (the model\'s own answer), or give as target the model\'s greedy continuation',
      details: { target: plan.goal.target },
    });
  }
  throw new LlmdbgError('invalid_goal', `input-reduction keeps the original prediction, but the answer ${plan.goal.answer} is not the model's top-1 next token on the prompt`, {
    hint: 'leave answerIds out to keep the model\'s own answer',
    details: { answer: plan.goal.answer },
  });
}

export async function attack(model: Model, req: AttackRequest): Promise<AttackResult> {
  const t0 = performance.now();
  resolveAttackMethod(req.method);
  const vocab = allowedVocab(model, req.vocab);
  const plan = await planAttack(model, req, vocab);
  const scorer = new GoalScorer(model, plan.goal, plan.memoryMB);
  const search = new Search(plan, scorer, req.signal, req.onProgress);
  // The original and the starting input are not candidates: they do not count as queries.
  const original: Node = { ids: plan.prompt, scored: (await scorer.evaluate([plan.prompt]))[0]! };
  const start: Node = plan.adv ? { ids: plan.start, scored: (await scorer.evaluate([plan.start]))[0]! } : original;
  let outcome: Outcome;
  switch (plan.method) {
    case 'hotflip':
      outcome = await hotflip(search, vocab, start);
      break;
    case 'gcg':
      outcome = await gcg(search, vocab, start);
      break;
    case 'input-reduction':
      checkReducible(search, plan, original);
      outcome = await inputReduction(search, start);
      break;
  }
  const best = outcome.best;
  const success = plan.method === 'input-reduction' ? search.log.length > 0 : best.scored.success;
  const ms = Math.round(performance.now() - t0);
  const result: AttackResult = {
    method: plan.method,
    goal: plan.goal.kind === 'targeted' ? { kind: 'targeted', targetIds: [...plan.goal.target] } : { kind: 'untargeted', answerIds: [plan.goal.answer] },
    original: await scorer.describe(plan.prompt, original.scored),
    adversarial: await scorer.describe(best.ids, best.scored),
    success,
    stopReason: outcome.stopReason,
    queries: search.queries,
    gradients: search.gradients,
    ms,
    steps: search.log,
    info: {
      method: plan.method,
      parameters: parameters(plan, req, vocab),
      model: { dir: model.source.dir, arch: model.config.arch, fingerprint: model.source.fingerprint },
      backend: backendInfo()?.name ?? tf.getBackend(),
      seed: plan.seed,
      vocabulary: vocab.summary,
      ...(plan.adv ? { start: { ids: [...start.ids], loss: start.scored.loss, prob: start.scored.prob, success: start.scored.success } } : {}),
      loss: { original: original.scored.loss, adversarial: best.scored.loss },
      durationMs: ms,
    },
  };
  return result;
}
