/**
 * The demo model's hardening set: next-word prompts with their correct answers built from the
 * TRAINING split only (train templates, training IOI name pairings), so that the eval suite
 * (models/demo/eval-suite.jsonl, held-out templates and pairings) stays held out.
 * Same line format as the eval suite: {"prompt", "expected", "behaviour"}; deterministic in its seed.
 * Non-goals: running attacks or training (src/train/adversarial, tools/harden-demo.ts).
 */
import { LlmdbgError } from '../errors.js';
import { Rng } from '../engine/rng.js';
import { RELATIONS, RELATION_FACTS, agreementBindings, factBindings, ioiBindings, ioiPairs, randomAgreementChoice } from './sentences.js';
import { formatSuiteJsonl, type SuiteItem } from './suites.js';
import { AGREEMENT_TEMPLATES, FACT_TEMPLATES, IOI_TEMPLATES, promptOf } from './templates.js';
import { OBJECTS, PLACES } from './world.js';

export interface HardenDataOptions {
  seed: number | string;
  /** IOI and agreement items (default 300 each); facts are every fact in every forward train template. */
  nIoi?: number;
  nAgreement?: number;
}

function count(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new LlmdbgError('invalid_argument', `${name} must be a non-negative integer, got ${n}`);
  return n;
}

/** Every fact of every relation in every forward TRAIN template. */
export function hardenFacts(): SuiteItem[] {
  const items: SuiteItem[] = [];
  for (const relation of RELATIONS) {
    const templates = FACT_TEMPLATES.filter((t) => t.relation === relation && t.split === 'train' && t.direction === 'forward');
    for (let i = 0; i < RELATION_FACTS[relation].length; i++) for (const t of templates) items.push({ ...promptOf(t, factBindings(relation, i)), behaviour: 'fact' });
  }
  return items;
}

/** IOI prompts over TRAIN templates and training name pairings, both name orders balanced. */
export function hardenIoi(seed: number | string, n: number): SuiteItem[] {
  const rng = new Rng(`llmdbg-demo/harden/ioi/${String(seed)}`);
  const templates = IOI_TEMPLATES.filter((t) => t.split === 'train');
  const pairs = ioiPairs('train');
  return Array.from({ length: count('nIoi', n) }, (_, i) => {
    const [a, b] = rng.pick(pairs);
    const swap = rng.int(2) === 1;
    const b0 = ioiBindings({ io: swap ? b : a, s: swap ? a : b, ioFirst: i % 2 === 0, place: rng.pick(PLACES), obj: rng.pick(OBJECTS) });
    return { ...promptOf(templates[i % templates.length]!, b0), behaviour: 'ioi' as const };
  });
}

/** Agreement prompts over TRAIN templates; as in the eval suite the distractor has the other number. */
export function hardenAgreement(seed: number | string, n: number): SuiteItem[] {
  const rng = new Rng(`llmdbg-demo/harden/agreement/${String(seed)}`);
  const templates = AGREEMENT_TEMPLATES.filter((t) => t.split === 'train');
  return Array.from({ length: count('nAgreement', n) }, (_, i) => {
    const plural = i % 2 === 1;
    const t = templates[Math.floor(i / 2) % templates.length]!;
    return { ...promptOf(t, agreementBindings(randomAgreementChoice(rng, plural, !plural))), behaviour: 'agreement' as const };
  });
}

export function buildHardenData(o: HardenDataOptions): SuiteItem[] {
  return [...hardenFacts(), ...hardenIoi(o.seed, o.nIoi ?? 300), ...hardenAgreement(o.seed, o.nAgreement ?? 300)];
}

export function formatHardenJsonl(items: readonly SuiteItem[]): string {
  return formatSuiteJsonl(items);
}
