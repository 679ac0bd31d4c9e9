/**
 * Demo data entry point: world, corpus, tokenizer files and eval suites for the shipped demo model.
 *
 * `buildDemoData` is deterministic in its options; with `outDir` it also writes the files the
 * trainer and `llmdbg eval --suite` read. Non-goals: training or evaluating the model.
 */
import type { Behaviour } from './templates.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCorpus } from './corpus.js';
import { buildEvalSuites, formatSuiteJsonl, type EvalSuites, type SuiteOptions } from './suites.js';
import { buildTokenizerConfig, buildTokenizerJson, type TokenizerConfigJson, type TokenizerJson } from './tokenizer.js';
import { buildVocabulary } from './vocab.js';

export * from './world.js';
export * from './templates.js';
export * from './vocab.js';
export * from './tokenizer.js';
export * from './sentences.js';
export * from './corpus.js';
export * from './suites.js';

export interface DemoDataOptions {
  seed: number | string;
  /** Training texts (default 100 000). */
  nTrain?: number;
  /** Relative weights per behaviour in the training corpus (default DEFAULT_MIX). */
  mix?: Partial<Record<Behaviour, number>>;
  /** Suite sizes; see `SuiteOptions`. */
  suites?: Omit<SuiteOptions, 'seed'>;
  /** When set, writes the files listed in `DEMO_FILES` there (creating the directory). */
  outDir?: string;
}

export interface DemoData {
  tokenizerJson: TokenizerJson;
  tokenizerConfig: TokenizerConfigJson;
  trainTexts: string[];
  /** The behaviour each training text shows, index for index (for per-behaviour loss weights). */
  trainBehaviours: Behaviour[];
  evalSuites: EvalSuites;
}

export const DEMO_FILES = {
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  /** One training text per line (texts never contain newlines). */
  train: 'train.txt',
  /** All next-word items (fact, ioi, agreement), JSONL. */
  suite: 'suite.jsonl',
  suiteFact: 'suite-fact.jsonl',
  suiteIoi: 'suite-ioi.jsonl',
  suiteAgreement: 'suite-agreement.jsonl',
  /** The `InductionSuite` object as JSON. */
  suiteInduction: 'suite-induction.json',
} as const;

export function buildDemoData(opts: DemoDataOptions): DemoData {
  const vocab = buildVocabulary();
  const corpus = generateCorpus({ seed: opts.seed, nExamples: opts.nTrain ?? 100_000, split: 'train', ...(opts.mix ? { mix: opts.mix } : {}) });
  const data: DemoData = {
    tokenizerJson: buildTokenizerJson(vocab),
    tokenizerConfig: buildTokenizerConfig(),
    trainTexts: corpus.map((e) => e.text),
    trainBehaviours: corpus.map((e) => e.behaviour),
    evalSuites: buildEvalSuites({ ...opts.suites, seed: opts.seed }),
  };
  if (opts.outDir !== undefined) writeDemoData(opts.outDir, data);
  return data;
}

export function writeDemoData(outDir: string, data: DemoData): void {
  mkdirSync(outDir, { recursive: true });
  const put = (name: string, text: string): void => writeFileSync(join(outDir, name), text, 'utf8');
  const s = data.evalSuites;
  put(DEMO_FILES.tokenizer, JSON.stringify(data.tokenizerJson, null, 2) + '\n');
  put(DEMO_FILES.tokenizerConfig, JSON.stringify(data.tokenizerConfig, null, 2) + '\n');
  put(DEMO_FILES.train, data.trainTexts.map((t) => t + '\n').join(''));
  put(DEMO_FILES.suite, formatSuiteJsonl([...s.fact, ...s.ioi, ...s.agreement]));
  put(DEMO_FILES.suiteFact, formatSuiteJsonl(s.fact));
  put(DEMO_FILES.suiteIoi, formatSuiteJsonl(s.ioi));
  put(DEMO_FILES.suiteAgreement, formatSuiteJsonl(s.agreement));
  put(DEMO_FILES.suiteInduction, JSON.stringify(s.induction) + '\n');
}
