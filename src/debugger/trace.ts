/**
 * Generation traces: a JSON Lines file recording every step of a generation (chosen id, its
 * probability, the top candidates, the generator state) so a run can be replayed and diffed.
 *
 * Crash safety: steps are appended to `<file>.partial` with an fsync per line and the file is
 * renamed to `<file>` only when generation ends, so an existing trace is never half-overwritten and
 * a killed run leaves a readable partial trace (its torn last line, if any, is dropped on read).
 */
import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LlmdbgError } from '../errors.js';
import type { GenerationStep } from '../model/generate.js';
import type { SamplingOptions } from '../model/sampling.js';

export const TRACE_FORMAT = 'llmdbg-trace';
export const TRACE_VERSION = 1;

export interface TraceHeader {
  format: typeof TRACE_FORMAT;
  version: number;
  model: { dir: string; arch: string; fingerprint: string };
  backend: string;
  promptIds: number[];
  options: SamplingOptions & { seed: number; maxNewTokens: number; stopAtEos: boolean; topCandidates: number };
}

export interface TraceStepRecord {
  step: number;
  id: number;
  prob: number;
  logprob: number;
  sampleProb: number;
  /** [id, prob] pairs, best first. */
  top: [number, number][];
  rng: number[] | null;
}

export interface TraceEnd {
  end: true;
  stopReason: string;
  ids: number[];
}

export interface Trace {
  path: string;
  header: TraceHeader;
  steps: TraceStepRecord[];
  end: TraceEnd | null;
  /** True when the file ended without its end record (a killed run). */
  truncated: boolean;
}

export function stepRecord(s: GenerationStep): TraceStepRecord {
  return { step: s.step, id: s.id, prob: s.prob, logprob: s.logprob, sampleProb: s.sampleProb, top: s.top.map((c) => [c.id, c.prob]), rng: s.rngState ? [...s.rngState] : null };
}

/** Appends a trace line by line, durably, and publishes it under its final name at the end. */
export class TraceWriter {
  private fd: number;
  private readonly partial: string;

  constructor(readonly path: string, header: TraceHeader) {
    const dir = dirname(resolve(path));
    if (!fs.existsSync(dir)) throw new LlmdbgError('write_failed', `cannot write trace ${path}: folder ${dir} does not exist`, { hint: 'create the folder or choose another --trace path' });
    this.partial = `${path}.partial`;
    this.fd = fs.openSync(this.partial, 'w', 0o600);
    this.line(header);
  }

  private line(obj: unknown): void {
    fs.writeSync(this.fd, JSON.stringify(obj) + '\n');
    fs.fsyncSync(this.fd);
  }

  step(s: GenerationStep): void {
    this.line(stepRecord(s));
  }

  finish(end: Omit<TraceEnd, 'end'>): void {
    this.line({ end: true, ...end });
    fs.closeSync(this.fd);
    fs.renameSync(this.partial, this.path);
    try {
      const dfd = fs.openSync(dirname(resolve(this.path)), 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // some filesystems cannot fsync a directory; the rename itself is still atomic
    }
  }

  /** Closes without publishing: the `.partial` file stays for inspection. */
  abandon(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}

function invalid(path: string, msg: string): LlmdbgError {
  return new LlmdbgError('trace_invalid', `${path}: ${msg}`, { hint: 'pass a file written by `llmdbg generate --trace FILE`' });
}

/** Reads a trace (or a `.partial` one), dropping a torn final line. */
export function readTrace(path: string): Trace {
  if (!fs.existsSync(path)) throw new LlmdbgError('file_not_found', `trace ${path} does not exist`, { hint: 'write one with `llmdbg generate --trace FILE`' });
  const text = fs.readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const parsed: unknown[] = [];
  let truncated = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    try {
      parsed.push(JSON.parse(l));
    } catch {
      if (i >= lines.length - 2) {
        truncated = true; // the torn last line of a killed run
        break;
      }
      throw invalid(path, `line ${i + 1} is not valid JSON`);
    }
  }
  const header = parsed[0] as TraceHeader | undefined;
  if (!header || header.format !== TRACE_FORMAT) throw invalid(path, 'not an llmdbg trace (missing header line)');
  if (header.version !== TRACE_VERSION) throw invalid(path, `trace version ${header.version} is not supported (this llmdbg reads version ${TRACE_VERSION})`);
  const steps: TraceStepRecord[] = [];
  let end: TraceEnd | null = null;
  for (const rec of parsed.slice(1)) {
    const r = rec as Partial<TraceStepRecord & TraceEnd>;
    if (r.end === true) {
      end = rec as TraceEnd;
      break;
    }
    if (typeof r.step !== 'number' || typeof r.id !== 'number' || typeof r.prob !== 'number') throw invalid(path, `step record ${steps.length} is malformed`);
    if (r.step !== steps.length) throw invalid(path, `step ${r.step} found where step ${steps.length} was expected`);
    steps.push(rec as TraceStepRecord);
  }
  return { path, header, steps, end, truncated: truncated || end === null };
}
