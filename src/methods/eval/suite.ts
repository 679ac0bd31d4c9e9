/**
 * Evaluation suites: JSON Lines of prompts with expected continuations, scored by greedy
 * top-1 agreement, and induction items (a random sequence repeated twice) scored by the ratio of
 * the second occurrence's loss to the first's.
 *
 * Line format: {"prompt": "...", "expected": " Paris", "behaviour": "fact"} or, for token ids,
 * {"ids": [1, 2], "expected_ids": [3]}; induction: {"behaviour": "induction", "ids": [r..., r...]}.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../../errors.js';
import type { Model } from '../../model/model.js';
import { generate } from '../../model/generate.js';

export interface SuiteItem {
  line: number;
  behaviour: string;
  prompt?: string;
  ids?: number[];
  expected?: string;
  expectedIds?: number[];
}

export interface Failure {
  line: number;
  behaviour: string;
  prompt: string;
  expected: string;
  got: string;
  expectedProb: number;
  expectedRank: number;
}

export interface BehaviourScore {
  n: number;
  correct: number;
  accuracy: number;
}

export interface InductionScore {
  n: number;
  /** Mean next-token loss (nats) over the first occurrence and over the repeat. */
  firstLoss: number;
  secondLoss: number;
  /** secondLoss / firstLoss: small when the model copies from context. */
  ratio: number;
}

export interface SuiteResult {
  n: number;
  correct: number;
  accuracy: number;
  byBehaviour: Record<string, BehaviourScore>;
  induction: InductionScore | null;
  failures: Failure[];
}

function bad(path: string, line: number, msg: string): LlmdbgError {
  return new LlmdbgError('invalid_argument', `${path}:${line}: ${msg}`, {
    hint: 'each line must be {"prompt": TEXT, "expected": TEXT} (or "ids"/"expected_ids"), or {"behaviour": "induction", "ids": [...]}',
    details: { file: path, line },
  });
}

const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((v) => Number.isInteger(v));

/** Reads and validates a suite file; every problem names its line number. */
export function readSuite(path: string): SuiteItem[] {
  if (!existsSync(path)) throw new LlmdbgError('file_not_found', `suite ${path} does not exist`, { hint: 'pass a JSON Lines file with --suite' });
  const items: SuiteItem[] = [];
  readFileSync(path, 'utf8').split('\n').forEach((text, i) => {
    const line = i + 1;
    if (text.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw bad(path, line, 'not valid JSON');
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad(path, line, 'expected a JSON object');
    const behaviour = typeof o['behaviour'] === 'string' ? (o['behaviour'] as string) : 'default';
    if (behaviour === 'induction') {
      if (!isIds(o['ids']) || o['ids'].length % 2 !== 0 || o['ids'].length < 4) throw bad(path, line, 'an induction item needs "ids": an even-length list (a sequence repeated twice)');
      items.push({ line, behaviour, ids: o['ids'] });
      return;
    }
    const item: SuiteItem = { line, behaviour };
    if (typeof o['prompt'] === 'string') item.prompt = o['prompt'];
    else if (isIds(o['ids'])) item.ids = o['ids'];
    else throw bad(path, line, 'missing "prompt" (text) or "ids" (token ids)');
    if (typeof o['expected'] === 'string' && o['expected'] !== '') item.expected = o['expected'];
    else if (isIds(o['expected_ids'])) item.expectedIds = o['expected_ids'];
    else throw bad(path, line, 'missing "expected" (non-empty text) or "expected_ids"');
    items.push(item);
  });
  if (items.length === 0) throw new LlmdbgError('invalid_argument', `suite ${path} has no items`);
  return items;
}

/** Mean next-token loss over positions [from, to) of one sequence (predictions of tokens from+1..to). */
function meanLoss(logp: Float32Array, ids: number[], V: number, from: number, to: number): number {
  let s = 0;
  for (let t = from; t < to; t++) s -= logp[t * V + ids[t + 1]!]!;
  return s / (to - from);
}

export async function evaluateSuite(model: Model, items: SuiteItem[], onProgress?: (done: number, total: number) => void): Promise<SuiteResult> {
  const byBehaviour: Record<string, BehaviourScore> = {};
  const failures: Failure[] = [];
  let first = 0, second = 0, nInd = 0;
  let done = 0;
  for (const it of items) {
    if (it.behaviour === 'induction') {
      const bos = model.config.bosTokenId;
      const ids = bos === null ? it.ids! : [bos, ...it.ids!];
      const off = bos === null ? 0 : 1;
      const n = it.ids!.length / 2;
      model.checkIds(ids);
      const logp = tf.tidy(() => tf.logSoftmax(tf.squeeze(model.run([ids]).logits!, [0])));
      const data = (await logp.data()) as Float32Array;
      logp.dispose();
      const V = model.config.vocabSize;
      // first occurrence: predict tokens 1..n-1 of r; repeat: predict tokens 1..n-1 of the copy
      first += meanLoss(data, ids, V, off, off + n - 1);
      second += meanLoss(data, ids, V, off + n, off + 2 * n - 1);
      nInd++;
    } else {
      const promptIds = it.ids ?? model.encode(it.prompt!);
      const expectedIds = it.expectedIds ?? model.encode(it.expected!, { addSpecialTokens: false });
      model.checkIds(promptIds, expectedIds.length);
      const res = await generate(model, promptIds, { maxNewTokens: expectedIds.length, stopAtEos: false, topCandidates: model.config.vocabSize });
      const ok = res.generated.every((id, i) => id === expectedIds[i]);
      const b = (byBehaviour[it.behaviour] ??= { n: 0, correct: 0, accuracy: 0 });
      b.n++;
      if (ok) b.correct++;
      else {
        const top = res.steps[0]!.top;
        const rank = top.findIndex((c) => c.id === expectedIds[0]);
        failures.push({
          line: it.line, behaviour: it.behaviour,
          prompt: it.prompt ?? promptIds.join(','),
          expected: it.expected ?? expectedIds.join(','),
          got: model.tokenizer ? model.decode(res.generated) : res.generated.join(','),
          expectedProb: rank >= 0 ? top[rank]!.prob : 0,
          expectedRank: rank,
        });
      }
    }
    onProgress?.(++done, items.length);
  }
  let n = 0, correct = 0;
  for (const b of Object.values(byBehaviour)) {
    b.accuracy = b.correct / b.n;
    n += b.n;
    correct += b.correct;
  }
  const induction = nInd > 0 ? { n: nInd, firstLoss: first / nInd, secondLoss: second / nInd, ratio: second / first } : null;
  return { n, correct, accuracy: n > 0 ? correct / n : 0, byBehaviour, induction, failures };
}
