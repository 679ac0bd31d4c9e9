/**
 * Hardening data: prompts with their correct answers, one JSON object per line, in the trainer's
 * pair format `{"prompt", "completion"}` (parsed by dataset-file.ts) or the eval-suite format
 * `{"prompt", "expected"}` / `{"ids", "expected_ids"}` (as src/methods/eval/suite.ts reads it);
 * suite induction lines are skipped. Bad lines are collected with their 1-based line numbers.
 * Non-goals: free text without an answer, chat templates, streaming large files.
 */
import { readFileSync } from 'node:fs';
import { LlmdbgError } from '../../errors.js';
import { Rng } from '../../engine/rng.js';
import type { Model } from '../../model/model.js';
import { parseDataset, type BadLine } from '../dataset-file.js';
import type { TokenExample } from '../data.js';

/** One line: a prompt (text or ids) and its correct answer (text or ids). */
export interface HardenRecord {
  line: number;
  behaviour: string;
  prompt?: string;
  promptIds?: number[];
  answer?: string;
  answerIds?: number[];
}

/** A tokenized record. */
export interface HardenItem {
  line: number;
  behaviour: string;
  /** Prompt ids, with the tokenizer's special tokens (BOS) when given as text. */
  promptIds: number[];
  /** The answer's ids, without special tokens. */
  answerIds: number[];
  prompt: string;
  answer: string;
}

export interface ParsedHardenData {
  records: HardenRecord[];
  bad: BadLine[];
  /** Lines that are valid but not usable for hardening (suite induction items). */
  skipped: BadLine[];
}

const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((v) => Number.isSafeInteger(v) && (v as number) >= 0);

/** A suite-format line (it has "expected" or "expected_ids"), validated as readSuite does. */
function suiteLine(o: Record<string, unknown>, line: number): HardenRecord | string {
  const behaviour = typeof o['behaviour'] === 'string' ? o['behaviour'] : 'default';
  const r: HardenRecord = { line, behaviour };
  if (typeof o['prompt'] === 'string' && o['prompt'] !== '') r.prompt = o['prompt'];
  else if (isIds(o['ids'])) r.promptIds = o['ids'];
  else return 'missing "prompt" (non-empty text) or "ids" (token ids)';
  if (typeof o['expected'] === 'string' && o['expected'] !== '') r.answer = o['expected'];
  else if (isIds(o['expected_ids'])) r.answerIds = o['expected_ids'];
  else return 'missing "expected" (non-empty text) or "expected_ids"';
  return r;
}

const NO_ANSWER = 'no answer to train on: hardening needs {"prompt", "completion"} or {"prompt", "expected"}';

/** Parses JSONL content; every bad line is reported with its number and reason. */
export function parseHardenData(content: string, name: string): ParsedHardenData {
  const out: ParsedHardenData = { records: [], bad: [], skipped: [] };
  content.replace(/^\uFEFF/, '').split('\n').forEach((raw, i) => {
    const s = raw.replace(/\r$/, '');
    if (s.trim() === '') return;
    const line = i + 1;
    let o: unknown;
    try {
      o = JSON.parse(s);
    } catch {
      o = undefined;
    }
    if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
      const r = o as Record<string, unknown>;
      if (r['behaviour'] === 'induction') {
        out.skipped.push({ line, reason: 'induction items have no single answer' });
        return;
      }
      if ('expected' in r || 'expected_ids' in r) {
        const x = suiteLine(r, line);
        if (typeof x === 'string') out.bad.push({ line, reason: x });
        else out.records.push(x);
        return;
      }
    }
    // everything else goes through the trainer's own JSONL parser, one line at a time
    const p = parseDataset(s, name, 'jsonl');
    for (const b of p.bad) out.bad.push({ line, reason: b.reason });
    for (const rec of p.records) {
      if (rec.kind === 'pair') out.records.push({ line, behaviour: 'default', prompt: rec.prompt, answer: rec.completion });
      else out.bad.push({ line, reason: NO_ANSWER });
    }
  });
  return out;
}

export function readHardenData(path: string, flag = '--data'): ParsedHardenData {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LlmdbgError('file_not_found', `${flag} ${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      hint: 'pass a JSONL file of {"prompt", "completion"} or {"prompt", "expected"} lines',
    });
  }
  return parseHardenData(content, path);
}

/**
 * Records -> items for `model`. Text is tokenized as the eval suite does (prompt with special
 * tokens, answer without). Items whose ids leave the vocabulary, or whose prompt + `extraLen`
 * adversarial tokens + answer exceed the context, become bad lines.
 */
export function tokenizeHardenData(records: readonly HardenRecord[], model: Model, extraLen = 0): { items: HardenItem[]; bad: BadLine[] } {
  const items: HardenItem[] = [];
  const bad: BadLine[] = [];
  const V = model.config.vocabSize;
  for (const r of records) {
    if ((r.prompt !== undefined || r.answer !== undefined) && !model.tokenizer) {
      bad.push({ line: r.line, reason: 'the model has no tokenizer, so only {"ids": [...], "expected_ids": [...]} lines can be used' });
      continue;
    }
    const promptIds = r.promptIds ?? model.encode(r.prompt!);
    const answerIds = r.answerIds ?? model.encode(r.answer!, { addSpecialTokens: false });
    const out = [...promptIds, ...answerIds].find((x) => x >= V);
    if (out !== undefined) {
      bad.push({ line: r.line, reason: `token id ${out} is outside the vocabulary [0, ${V})` });
      continue;
    }
    if (promptIds.length === 0 || answerIds.length === 0) {
      bad.push({ line: r.line, reason: `the ${promptIds.length === 0 ? 'prompt' : 'answer'} has no tokens` });
      continue;
    }
    const len = promptIds.length + extraLen + answerIds.length;
    if (len > model.config.nCtx) {
      bad.push({ line: r.line, reason: `${promptIds.length} prompt + ${extraLen} adversarial + ${answerIds.length} answer tokens exceed the context of ${model.config.nCtx}` });
      continue;
    }
    items.push({ line: r.line, behaviour: r.behaviour, promptIds, answerIds, prompt: r.prompt ?? model.decode(promptIds), answer: r.answer ?? model.decode(answerIds) });
  }
  return { items, bad };
}

/** A seeded held-out split: `fraction` of the items (at least 1, at most n - 1) for evaluation. */
export function splitHeldOut(items: readonly HardenItem[], fraction: number, seed: number): { train: HardenItem[]; eval: HardenItem[] } {
  if (!(fraction > 0 && fraction < 1)) throw new LlmdbgError('invalid_argument', `held-out fraction ${fraction} must be in (0, 1)`, { hint: 'or pass a separate --eval file' });
  if (items.length < 2) throw new LlmdbgError('invalid_dataset', `${items.length} usable item(s): at least 2 are needed to hold some out`, { hint: 'add data or pass a separate --eval file' });
  const order = new Rng(`llmdbg-harden/heldout/${seed}`).shuffle([...items.keys()]);
  const nEval = Math.min(items.length - 1, Math.max(1, Math.round(items.length * fraction)));
  const evalSet = new Set(order.slice(0, nEval));
  return { train: items.filter((_, i) => !evalSet.has(i)), eval: items.filter((_, i) => evalSet.has(i)) };
}

/** Prompt (loss 0) followed by the answer (loss 1): the answer tokens are the only targets. */
export function answerExample(promptIds: readonly number[], answerIds: readonly number[]): TokenExample {
  return { ids: [...promptIds, ...answerIds], lossMask: [...promptIds.map(() => 0), ...answerIds.map(() => 1)] };
}
