/**
 * Seeded, resumable PRNG: xoshiro128** over four uint32 words, seeded by SplitMix32.
 *
 * Pure 32-bit integer arithmetic (`Math.imul`, `>>>`), so every platform gives the same stream.
 * A string seed is hashed with FNV-1a (UTF-16 code units) first. Not cryptographic; no
 * global state; independent of the demo content so sampling code can reuse it.
 */
import { LlmdbgError } from '../errors.js';

/** The four state words; never all zero. */
export type RngState = readonly [number, number, number, number];

/** FNV-1a 32-bit over the UTF-16 code units of `s`. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** SplitMix32 step: returns [output, nextCounter]. */
function splitmix32(counter: number): [number, number] {
  const next = (counter + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z = (z ^ (z >>> 16)) >>> 0;
  return [z, next];
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function isUint32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed`: a uint32, or any string (hashed with FNV-1a). */
  constructor(seed: number | string) {
    let c: number;
    if (typeof seed === 'string') c = hashString(seed);
    else if (isUint32(seed)) c = seed;
    else throw new LlmdbgError('invalid_argument', `Rng seed must be a uint32 or a string, got ${String(seed)}`, { hint: 'use an integer in [0, 2^32) or a string' });
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [z, next] = splitmix32(c);
      words.push(z);
      c = next;
    }
    this.setState([words[0]!, words[1]!, words[2]!, words[3]!]);
  }

  /** Next uint32 (xoshiro128**). */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); `n` in [1, 2^32]. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new LlmdbgError('invalid_argument', `Rng.int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    // Values below `threshold` would over-represent the low residues: redraw them.
    const threshold = (0x100000000 - n) % n;
    for (;;) {
      const r = this.next();
      if (r >= threshold) return r % n;
    }
  }

  /** Uniform float in [0, 1) with 53 random bits (two draws). */
  float(): number {
    const hi = this.next() >>> 5; // 27 bits
    const lo = this.next() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new LlmdbgError('invalid_argument', 'Rng.pick() called with an empty array');
    return arr[this.int(arr.length)]!;
  }

  /** Fisher-Yates shuffle IN PLACE (from the end); returns the same array. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
    return arr;
  }

  /** A copy of the state; `setState(getState())` resumes the stream exactly. */
  getState(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  setState(state: RngState): void {
    const words: unknown = state;
    if (!Array.isArray(words) || words.length !== 4 || !words.every(isUint32)) {
      throw new LlmdbgError('invalid_argument', `Rng state must be four uint32 words, got ${JSON.stringify(state)}`);
    }
    if (state.every((w) => w === 0)) {
      throw new LlmdbgError('invalid_argument', 'Rng state must not be all zero (xoshiro would emit zeros forever)');
    }
    [this.s0, this.s1, this.s2, this.s3] = state;
  }
}
