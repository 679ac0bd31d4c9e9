/**
 * The training set of one hardening round: exactly `total` examples, a share of them adversarial
 * (attack-found prompts, or clean prompts with random adversarial tokens for the embedding
 * method) and the rest clean, each with the CORRECT answer as its only targets. Pools are cycled
 * in seeded shuffled order, so the mix is a pure function of its inputs and seed.
 * Non-goals: finding adversarial inputs (the attacks), batching (ExampleSource).
 */
import { Rng } from '../../engine/rng.js';
import type { TokenExample } from '../data.js';
import { answerExample, type HardenItem } from './data.js';

/** `n` draws from `pool`, cycling through a fresh seeded shuffle per pass. */
function cycle<T>(pool: readonly T[], n: number, rng: Rng): T[] {
  const out: T[] = [];
  while (out.length < n && pool.length > 0) {
    for (const i of rng.shuffle([...pool.keys()])) {
      if (out.length >= n) break;
      out.push(pool[i]!);
    }
  }
  return out;
}

export function mixExamples(clean: readonly TokenExample[], adversarial: readonly TokenExample[], total: number, advFraction: number, seed: string): { examples: TokenExample[]; clean: number; adversarial: number } {
  const rng = new Rng(seed);
  const nAdv = adversarial.length === 0 ? 0 : Math.round(total * advFraction);
  const adv = cycle(adversarial, nAdv, rng);
  const cl = cycle(clean, total - adv.length, rng);
  return { examples: [...adv, ...cl], clean: cl.length, adversarial: adv.length };
}

/** The prompt with `adv` inserted as a prefix (after a leading BOS) or a suffix, as the attacks place it. */
export function withAdvTokens(promptIds: readonly number[], adv: readonly number[], where: 'prefix' | 'suffix', bosId: number | null): number[] {
  if (where === 'suffix') return [...promptIds, ...adv];
  const keep = bosId !== null && promptIds[0] === bosId ? 1 : 0;
  return [...promptIds.slice(0, keep), ...adv, ...promptIds.slice(keep)];
}

/** Clean items with `len` random allowed tokens inserted (the embedding method's adversarial slots). */
export function randomAdvExamples(items: readonly HardenItem[], n: number, allowed: readonly number[], len: number, where: 'prefix' | 'suffix', bosId: number | null, seed: string): TokenExample[] {
  const rng = new Rng(seed);
  return cycle(items, n, rng).map((it) => {
    const adv = Array.from({ length: len }, () => rng.pick(allowed));
    return answerExample(withAdvTokens(it.promptIds, adv, where, bosId), it.answerIds);
  });
}
