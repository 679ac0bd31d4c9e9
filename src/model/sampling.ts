/**
 * Choosing the next token from one row of logits: greedy, temperature, top-k and top-p, in that
 * order (as Hugging Face applies them), with llmdbg's own seeded generator.
 *
 * All arithmetic is float64 on the host over the float32 logits, with ties broken by the lower id,
 * so the same logits, options and generator state always give the same token.
 */
import { LlmdbgError } from '../errors.js';
import type { Rng } from '../engine/rng.js';

export interface SamplingOptions {
  /** 0 means greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens; 0 = off. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose mass reaches p; 1 = off. */
  topP: number;
}

export interface Candidate {
  id: number;
  /** Probability under the model (softmax at temperature 1). */
  prob: number;
}

export interface Choice {
  id: number;
  /** The model's probability of the chosen token (temperature 1, no filtering). */
  prob: number;
  logprob: number;
  /** Probability of the chosen token under the filtered, tempered sampling distribution. */
  sampleProb: number;
  /** The most likely tokens under the model, best first. */
  top: Candidate[];
}

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) throw new LlmdbgError('invalid_argument', `--temperature ${o.temperature} must be a finite number >= 0`, { hint: '0 means greedy decoding' });
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new LlmdbgError('invalid_argument', `--top-k ${o.topK} must be an integer >= 0`, { hint: '0 turns top-k off' });
  if (!(o.topP > 0 && o.topP <= 1)) throw new LlmdbgError('invalid_argument', `--top-p ${o.topP} must be in (0, 1]`, { hint: '1 turns top-p off' });
}

/** Indices sorted by value descending, ties by lower index. */
function order(values: ArrayLike<number>): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => (values[b]! - values[a]!) || a - b);
  return idx;
}

function logSumExp(values: ArrayLike<number>, scale: number): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]! * scale);
  let s = 0;
  for (let i = 0; i < values.length; i++) s += Math.exp(values[i]! * scale - max);
  return max + Math.log(s);
}

/** Picks the next token from logits [V]. `rng` is used only when sampling (temperature > 0). */
export function chooseToken(logits: ArrayLike<number>, o: SamplingOptions, rng: Rng | null, nTop = 10): Choice {
  const V = logits.length;
  const lse = logSumExp(logits, 1);
  const sorted = order(logits);
  const top = sorted.slice(0, Math.min(nTop, V)).map((id) => ({ id, prob: Math.exp(logits[id]! - lse) }));
  const pick = (id: number, sampleProb: number): Choice => ({ id, prob: Math.exp(logits[id]! - lse), logprob: logits[id]! - lse, sampleProb, top });

  if (o.temperature === 0) return pick(sorted[0]!, 1);
  if (!rng) throw new Error('internal: sampling needs a generator');

  // 1) temperature, 2) top-k, 3) top-p over the tempered distribution
  const k = o.topK > 0 ? Math.min(o.topK, V) : V;
  const kept = sorted.slice(0, k);
  const inv = 1 / o.temperature;
  const keptLogits = kept.map((id) => logits[id]!);
  const lseT = logSumExp(keptLogits, inv);
  let probs = keptLogits.map((l) => Math.exp(l * inv - lseT));
  if (o.topP < 1) {
    let mass = 0;
    let n = 0;
    while (n < probs.length && mass < o.topP) mass += probs[n++]!;
    probs = probs.slice(0, Math.max(1, n));
  }
  const total = probs.reduce((a, b) => a + b, 0);

  // 4) draw
  const u = rng.float() * total;
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (u < acc) return pick(kept[i]!, probs[i]! / total);
  }
  return pick(kept[probs.length - 1]!, probs[probs.length - 1]! / total);
}
