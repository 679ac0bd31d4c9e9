/**
 * Training files for `llmdbg train`: plain text (one example per non-empty line) or JSONL with one
 * object per line: `{"text": ...}`, `{"prompt": ..., "completion": ...}` (loss on the completion
 * only) or `{"ids": [...]}` (token ids, for models without a tokenizer). Bad lines are collected
 * with their 1-based line numbers and reasons, never silently dropped.
 * Non-goals: other formats (CSV, parquet), chat templates, multi-line text records in .txt.
 */
import { readFileSync } from 'node:fs';
import { LlmdbgError } from '../errors.js';
import type { TokenExample } from './data.js';

export type DatasetRecord =
  | { line: number; kind: 'text'; text: string }
  | { line: number; kind: 'pair'; prompt: string; completion: string }
  | { line: number; kind: 'ids'; ids: number[] };

export interface BadLine {
  line: number;
  reason: string;
}

export interface ParsedDataset {
  format: 'text' | 'jsonl';
  records: DatasetRecord[];
  bad: BadLine[];
}

function parseJsonLine(s: string, line: number): DatasetRecord | string {
  let o: unknown;
  try {
    o = JSON.parse(s);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'expected a JSON object';
  const r = o as Record<string, unknown>;
  if ('prompt' in r || 'completion' in r) {
    if (typeof r['prompt'] !== 'string' || typeof r['completion'] !== 'string') return '"prompt" and "completion" must both be strings';
    if (r['completion'] === '') return '"completion" is empty';
    return { line, kind: 'pair', prompt: r['prompt'], completion: r['completion'] };
  }
  if ('text' in r) {
    if (typeof r['text'] !== 'string') return '"text" must be a string';
    if (r['text'].trim() === '') return '"text" is empty';
    return { line, kind: 'text', text: r['text'] };
  }
  if ('ids' in r) {
    const ids = r['ids'];
    if (!Array.isArray(ids) || ids.length < 2 || !ids.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) return '"ids" must be an array of at least 2 non-negative integers';
    return { line, kind: 'ids', ids: ids as number[] };
  }
  return 'expected a "text" field, "prompt" and "completion" fields, or an "ids" array';
}

/** Parses file content; `format` defaults from the name (.jsonl/.json -> JSONL, else text). */
export function parseDataset(content: string, name: string, format?: 'text' | 'jsonl'): ParsedDataset {
  const fmt = format ?? (/\.jsonl?$/i.test(name) ? 'jsonl' : 'text');
  const lines = content.replace(/^\uFEFF/, '').split('\n');
  const records: DatasetRecord[] = [];
  const bad: BadLine[] = [];
  lines.forEach((raw, i) => {
    const s = raw.replace(/\r$/, '');
    if (s.trim() === '') return;
    const line = i + 1;
    if (fmt === 'text') {
      records.push({ line, kind: 'text', text: s });
      return;
    }
    const r = parseJsonLine(s, line);
    if (typeof r === 'string') bad.push({ line, reason: r });
    else records.push(r);
  });
  return { format: fmt, records, bad };
}

export function readDataset(path: string, format?: 'text' | 'jsonl'): ParsedDataset {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LlmdbgError('file_not_found', `--data ${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { hint: 'pass a .txt file (one example per line) or a .jsonl file' });
  }
  return parseDataset(content, path, format);
}

/** The one-line error for bad lines (first few listed). */
export function badLinesError(path: string, bad: readonly BadLine[]): LlmdbgError {
  const shown = bad.slice(0, 3).map((b) => `line ${b.line}: ${b.reason}`).join('; ');
  return new LlmdbgError('invalid_dataset', `${path}: ${bad.length} bad line(s): ${shown}${bad.length > 3 ? '; ...' : ''}`, {
    hint: 'fix those lines, or pass --skip-bad-lines to train without them',
    details: { file: path, bad: bad.slice(0, 100) },
  });
}

export interface Tokenize {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
}

/**
 * Records -> token examples. Texts get the tokenizer's special tokens (e.g. BOS) plus `eosId`;
 * pairs are tokenized as prompt (with special tokens) then completion (without), loss on the
 * completion and EOS only. Records that produce fewer than 2 tokens, or ids outside the
 * vocabulary, become bad lines.
 */
export function toExamples(records: readonly DatasetRecord[], tok: Tokenize | null, opts: { eosId: number | null; vocabSize: number }): { examples: TokenExample[]; bad: BadLine[] } {
  const examples: TokenExample[] = [];
  const bad: BadLine[] = [];
  const eos = opts.eosId === null ? [] : [opts.eosId];
  for (const r of records) {
    let ids: number[];
    let lossMask: number[] | undefined;
    if (r.kind === 'ids') ids = r.ids;
    else if (!tok) {
      bad.push({ line: r.line, reason: 'the model has no tokenizer, so only {"ids": [...]} lines can be used' });
      continue;
    } else if (r.kind === 'text') ids = [...tok.encode(r.text), ...eos];
    else {
      const p = tok.encode(r.prompt);
      const c = [...tok.encode(r.completion, { addSpecialTokens: false }), ...eos];
      ids = [...p, ...c];
      lossMask = [...p.map(() => 0), ...c.map(() => 1)];
    }
    const out = ids.find((x) => x >= opts.vocabSize);
    if (out !== undefined) {
      bad.push({ line: r.line, reason: `token id ${out} is outside the vocabulary [0, ${opts.vocabSize})` });
      continue;
    }
    if (ids.length < 2) {
      bad.push({ line: r.line, reason: `only ${ids.length} token(s) after tokenization; at least 2 are needed` });
      continue;
    }
    examples.push(lossMask ? { ids, lossMask } : { ids });
  }
  return { examples, bad };
}
