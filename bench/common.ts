/**
 * Small helpers shared by the benchmark scripts: the deterministic prompt, statistics, memory
 * snapshots and child-process plumbing (each measurement runs in its own process so that its
 * peak RSS is its own).
 * Non-goals: anything the library needs (benchmarks only read the public API).
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/engine/rng.js';
import { BENCH_ROOT } from './make-model.js';
import type { Phase, WorkerResult } from './worker.js';

/** The prompt both sides run: `n` ids drawn uniformly from [0, vocab) by Rng(seed). */
export function promptIds(n: number, vocab: number, seed = 0): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(vocab));
}

export interface Stat {
  median: number;
  min: number;
  all: number[];
  /** Median CPU time (user + system) of the same runs, when measured: robust to other processes sharing the cores. */
  cpuMedian?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function stat(xs: number[], cpu?: number[]): Stat {
  return { median: median(xs), min: Math.min(...xs), all: xs, ...(cpu ? { cpuMedian: median(cpu) } : {}) };
}

/** CPU time (user + system) of this process so far, ms. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const MB = 2 ** 20;

export interface MemorySnapshot {
  /** Peak resident set size of this process so far (getrusage maxrss), MB. */
  peakRssMB: number;
  /** Current resident set size, MB. */
  rssMB: number;
  /** Size of the WASM linear memory (never shrinks; null on other backends), MB. */
  wasmHeapMB: number | null;
  /** Bytes held by live tf tensors, MB. */
  tensorMB: number;
  numTensors: number;
}

export function memorySnapshot(): MemorySnapshot {
  const b = tf.getBackend() === 'wasm' ? (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }) : null;
  const heap = b?.wasm?.HEAPU8?.buffer.byteLength;
  const m = tf.memory();
  return {
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    rssMB: process.memoryUsage.rss() / MB,
    wasmHeapMB: heap === undefined ? null : heap / MB,
    tensorMB: m.numBytes / MB,
    numTensors: m.numTensors,
  };
}

export function load1(): number {
  return loadavg()[0]!;
}

export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion, collecting its output. `env` entries set to undefined are removed. */
export function runChild(cmd: string, args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<ChildResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...(opts.env ?? {}) })) if (v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** The last line of stdout that parses as a JSON object. */
export function lastJson<T>(stdout: string): T | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as T;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** The last non-empty line of stderr, for error reports. */
export function lastLine(s: string): string {
  const lines = s.trim().split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

export interface WorkerArgs {
  model: string;
  backend: string;
  promptLen: number;
  decode: number;
  repeats: number;
  igSteps: number;
}

/** Runs one phase in a fresh process; throws with the child's last stderr line on failure. */
export async function runWorker(phase: Phase, a: WorkerArgs, timeoutMs = 3_600_000): Promise<WorkerResult> {
  const args = [
    '--import', 'tsx', join(BENCH_ROOT, 'worker.ts'), '--model', a.model, '--phase', phase, '--backend', a.backend,
    '--prompt-len', String(a.promptLen), '--decode', String(a.decode), '--repeats', String(a.repeats),
    '--ig-steps', String(a.igSteps),
  ];
  const r = await runChild(process.execPath, args, { cwd: join(BENCH_ROOT, '..'), timeoutMs });
  const res = lastJson<WorkerResult>(r.stdout);
  if (r.code !== 0 || !res) {
    const msg = r.stderr.split('\n').find((l) => l.startsWith('worker: '))?.slice(8) ?? lastLine(r.stderr);
    throw new Error(`${phase} worker exited ${r.code ?? r.signal}: ${msg || '(no message)'}`);
  }
  return res;
}

