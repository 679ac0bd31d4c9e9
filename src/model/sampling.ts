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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const ID_SPACE = 2 ** 18; // vocabularies up to 262144 ids

/** Ids of `values` sorted by value descending, ties by lower id (a native numeric sort of packed keys). */
export function rankIds(values: ArrayLike<number>, limit = values.length): number[] {
  const n = values.length;
  if (limit < 64 && limit < n) return topIds(values, limit);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    f32[0] = values[i]!;
    const b = u32[0]!;
    const ordered = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0; // ascending with the float
    keys[i] = (0xffffffff - ordered) * ID_SPACE + i; // descending value, then ascending id
  }
  keys.sort();
  const out = new Array<number>(Math.min(limit, n));
  for (let i = 0; i < out.length; i++) out[i] = keys[i]! % ID_SPACE;
  return out;
}

/** The k best ids in rank order, by one pass with a small sorted buffer (k small). */
function topIds(values: ArrayLike<number>, k: number): number[] {
  const ids: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (ids.length === k && !(v > values[ids[k - 1]!]!)) continue; // ties keep the lower id already held
    let j = ids.length === k ? k - 1 : ids.length;
    while (j > 0 && v > values[ids[j - 1]!]!) {
      if (j < k) ids[j] = ids[j - 1]!;
      j--;
    }
    ids[j] = i;
    if (ids.length > k) ids.length = k;
  }
  return ids;
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
  const k = o.topK > 0 ? Math.min(o.topK, V) : V;
  // greedy and top-k need only the first few ranks; plain or top-p sampling needs them all
  const sorted = rankIds(logits, o.temperature === 0 ? Math.min(nTop, V) : o.topP < 1 || o.topK === 0 ? V : Math.max(k, Math.min(nTop, V)));
  const top = sorted.slice(0, Math.min(nTop, V)).map((id) => ({ id, prob: Math.exp(logits[id]! - lse) }));
  const pick = (id: number, sampleProb: number): Choice => ({ id, prob: Math.exp(logits[id]! - lse), logprob: logits[id]! - lse, sampleProb, top });

  if (o.temperature === 0) return pick(sorted[0]!, 1);
  if (!rng) throw new Error('internal: sampling needs a generator');

  // 1) temperature, 2) top-k, 3) top-p over the tempered distribution
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
