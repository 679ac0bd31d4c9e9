/**
 * Tensor health on host data, in modes from cheap to full: `shape` (no data read), `finite`
 * (NaN, +Inf, -Inf counts), `stats` (plus min, max, mean, std, L2 norm, share of zeros) and `full`
 * (plus |x| max and headroom against float16 and bfloat16: overflow, underflow to zero, subnormals).
 * One pass over the data (two for `stats`/`full` is avoided with a shifted sum). Pure functions.
 * Non-goals: histograms, per-axis statistics (see conditions.ts for per-position norms).
 */
import { LlmdbgError } from '../../errors.js';
import { MASKED_SCORE } from '../../model/layers/attention.js';

export const HEALTH_MODES = ['shape', 'finite', 'stats', 'full'] as const;
export type HealthMode = (typeof HEALTH_MODES)[number];

/** Largest finite float16 (the overflow line: |x| > 65504). */
export const F16_MAX = 65504;
/** Largest finite bfloat16, (2 - 2^-7) * 2^127. */
export const BF16_MAX = 3.3895313892515355e38;
/** Smallest normal float16 and float32/bfloat16. */
export const F16_MIN_NORMAL = 2 ** -14;
export const F32_MIN_NORMAL = 2 ** -126;

/**
 * Rounding limits (round to nearest even): |x| <= UNDERFLOW becomes 0; |x| < SUBNORMAL_TOP is stored
 * as a non-zero subnormal (above it, the value rounds up to the smallest normal).
 */
const F16_UNDERFLOW = 2 ** -25; // half the smallest f16 subnormal 2^-24
const F16_SUBNORMAL_TOP = 1023.5 * 2 ** -24;
const BF16_UNDERFLOW = 2 ** -134; // half the smallest bf16 subnormal 2^-133
const BF16_SUBNORMAL_TOP = 127.5 * 2 ** -133;

export interface Headroom {
  /** Finite values with |x| above the format's largest finite value. */
  overflowCount: number;
  /** Non-zero finite values that round to zero in the format. */
  underflowCount: number;
  /** Non-zero finite values stored as subnormals (reduced precision) in the format. */
  subnormalCount: number;
  /** log2(max finite / |x| max): how many doublings fit before overflow; null when every value is 0. */
  headroomBits: number | null;
}

export interface TensorHealth {
  shape: number[];
  size: number;
  /** Masked attention scores (the float32 minimum) left out of every statistic (attn_scores only). */
  maskedCount?: number;
  nanCount?: number;
  posInfCount?: number;
  negInfCount?: number;
  /** Statistics over the finite, unmasked values; null when there are none. */
  min?: number | null;
  max?: number | null;
  mean?: number | null;
  /** Population standard deviation. */
  std?: number | null;
  /** L2 norm of all finite unmasked values. */
  norm?: number;
  /** Exact zeros (either sign) over the unmasked values. */
  zeroFraction?: number;
  absMax?: number | null;
  fp16?: Headroom;
  bf16?: Headroom;
}

export function checkHealthMode(mode: string): HealthMode {
  if (!(HEALTH_MODES as readonly string[]).includes(mode)) {
    throw new LlmdbgError('invalid_argument', `unknown health mode "${mode}"`, { hint: `choose one of ${HEALTH_MODES.join(', ')} (cheap to full)` });
  }
  return mode as HealthMode;
}

export function modeRank(mode: HealthMode): number {
  return HEALTH_MODES.indexOf(mode);
}

export function nonFiniteCount(h: TensorHealth): number {
  return (h.nanCount ?? 0) + (h.posInfCount ?? 0) + (h.negInfCount ?? 0);
}

function headroom(absMax: number | null, max: number, over: number, under: number, sub: number): Headroom {
  return { overflowCount: over, underflowCount: under, subnormalCount: sub, headroomBits: absMax === null || absMax === 0 ? null : Math.log2(max / absMax) };
}

/**
 * Health of a row-major tensor. `masked: true` (attention scores) leaves out values equal to the
 * float32 minimum that masked keys hold, counting them in `maskedCount` instead.
 */
export function tensorHealth(data: ArrayLike<number>, shape: readonly number[], mode: HealthMode, opts: { masked?: boolean } = {}): TensorHealth {
  const out: TensorHealth = { shape: [...shape], size: shape.reduce((a, b) => a * b, 1) };
  if (mode === 'shape') return out;
  const n = data.length;
  if (n !== out.size) throw new LlmdbgError('internal', `tensorHealth: ${n} values for shape [${shape.join(', ')}] (${out.size} elements)`);
  const maskedValue = opts.masked ? MASKED_SCORE : NaN; // NaN never equals: nothing masked
  let nan = 0, pinf = 0, ninf = 0, masked = 0;
  if (mode === 'finite') {
    for (let i = 0; i < n; i++) {
      const x = data[i]!;
      if (x - x === 0) {
        if (x === maskedValue) masked++;
      } else if (x !== x) nan++;
      else if (x > 0) pinf++;
      else ninf++;
    }
    if (opts.masked) out.maskedCount = masked;
    return { ...out, nanCount: nan, posInfCount: pinf, negInfCount: ninf };
  }
  const full = mode === 'full';
  let count = 0, zeros = 0, min = Infinity, max = -Infinity;
  let s1 = 0, s2 = 0, sq = 0;
  let f16Over = 0, f16Under = 0, f16Sub = 0, bf16Over = 0, bf16Under = 0, bf16Sub = 0;
  // shift for the one-pass variance: the first finite, unmasked value
  let shift = 0;
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    if (x - x === 0 && x !== maskedValue) {
      shift = x;
      break;
    }
  }
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    if (x - x !== 0) {
      if (x !== x) nan++;
      else if (x > 0) pinf++;
      else ninf++;
      continue;
    }
    if (x === maskedValue) {
      masked++;
      continue;
    }
    count++;
    if (x < min) min = x;
    if (x > max) max = x;
    const d = x - shift;
    s1 += d;
    s2 += d * d;
    sq += x * x;
    if (x === 0) zeros++;
    else if (full) {
      // common values (normal in both formats) take two comparisons per format
      const a = x < 0 ? -x : x;
      if (a < F16_SUBNORMAL_TOP) {
        if (a <= F16_UNDERFLOW) f16Under++;
        else f16Sub++;
        if (a < BF16_SUBNORMAL_TOP) {
          if (a <= BF16_UNDERFLOW) bf16Under++;
          else bf16Sub++;
        }
      } else if (a > F16_MAX) {
        f16Over++;
        if (a > BF16_MAX) bf16Over++;
      }
    }
  }
  if (opts.masked) out.maskedCount = masked;
  const has = count > 0;
  const mean = has ? shift + s1 / count : null;
  const variance = has ? Math.max(0, (s2 - (s1 * s1) / count) / count) : null;
  const unmasked = n - masked;
  const res: TensorHealth = {
    ...out,
    nanCount: nan,
    posInfCount: pinf,
    negInfCount: ninf,
    min: has ? min : null,
    max: has ? max : null,
    mean,
    std: variance === null ? null : Math.sqrt(variance),
    norm: Math.sqrt(sq),
    zeroFraction: unmasked > 0 ? zeros / unmasked : 0,
  };
  if (!full) return res;
  const absMax = has ? Math.max(Math.abs(min), Math.abs(max)) : null;
  return { ...res, absMax, fp16: headroom(absMax, F16_MAX, f16Over, f16Under, f16Sub), bf16: headroom(absMax, BF16_MAX, bf16Over, bf16Under, bf16Sub) };
}
