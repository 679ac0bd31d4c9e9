/**
 * Learning-rate schedule: linear warmup then cosine decay to a floor, as a pure function of the
 * step, so a resumed run gets exactly the rates of an uninterrupted one.
 * Non-goals: other schedule shapes (constant = warmup 0 and minLr = lr).
 */
import { LlmdbgError } from '../errors.js';

export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Warmup steps (linear from lr/warmup to lr); 0 for none. */
  warmup: number;
  /** Floor of the cosine decay, reached at the last step. */
  minLr: number;
  /** Total optimizer steps. */
  steps: number;
}

export function checkSchedule(s: ScheduleOptions): void {
  const bad = (what: string) => new LlmdbgError('invalid_argument', `learning-rate schedule: ${what}`, { hint: 'use lr > 0, 0 <= minLr <= lr, 0 <= warmup <= steps, steps >= 1' });
  if (!(Number.isFinite(s.lr) && s.lr > 0)) throw bad(`lr = ${s.lr} must be a positive number`);
  if (!(Number.isFinite(s.minLr) && s.minLr >= 0 && s.minLr <= s.lr)) throw bad(`minLr = ${s.minLr} must be in [0, lr = ${s.lr}]`);
  if (!Number.isSafeInteger(s.steps) || s.steps < 1) throw bad(`steps = ${s.steps} must be a positive integer`);
  if (!Number.isSafeInteger(s.warmup) || s.warmup < 0 || s.warmup > s.steps) throw bad(`warmup = ${s.warmup} must be an integer in [0, steps = ${s.steps}]`);
}

/**
 * Rate for update number `step` (0-based): lr (step + 1) / warmup during warmup, then
 * minLr + (lr - minLr) (1 + cos(pi p)) / 2 with p = (step - warmup) / (steps - warmup - 1)
 * going from 0 at the first post-warmup update to 1 at the last update.
 */
export function lrAt(step: number, s: ScheduleOptions): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  const decaySteps = s.steps - s.warmup - 1;
  if (decaySteps <= 0) return s.lr;
  const p = Math.min(1, (step - s.warmup) / decaySteps);
  return s.minLr + 0.5 * (s.lr - s.minLr) * (1 + Math.cos(Math.PI * p));
}
