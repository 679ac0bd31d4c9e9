/**
 * Memory bandwidth of this machine, measured with a large buffer copy (STREAM "copy" style), and the
 * decode speed it allows: a decoded token must read every weight once plus the KV cache, so
 * tokens/s <= bandwidth / bytes read per token. bench/runtime.ts runs this in the same run as decode.
 * Counting: a copy of N bytes reads N and writes N, so GB/s = 2N / seconds / 1e9 (as STREAM does; the
 * write-allocate read of the destination is not counted). Best of R timed copies after an untimed one.
 * Non-goals: a read-only or NUMA-aware stream benchmark; cache-resident sizes (use >= 256 MB buffers).
 *
 *   npx tsx bench/bandwidth.ts [--mb 512] [--repeats 5] [--threads 1,2] [--json]
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAddon } from '../src/engine/native/addon.js';
import type { ModelConfig } from '../src/formats/config.js';
import { parameterCount } from '../src/formats/config.js';

export interface CopyMeasurement {
  /** `js-set`: Float32Array.prototype.set (V8, one thread); `native-copy`: the addon's parallel memcpy. */
  method: 'js-set' | 'native-copy';
  threads: number;
  /** Bytes of one buffer; each copy moves 2x this (read + write). */
  bufferBytes: number;
  /** Best and median over the timed copies, GB/s with GB = 1e9 bytes. */
  bestGBs: number;
  medianGBs: number;
  allGBs: number[];
}

export interface BandwidthResult {
  info: { method: 'copy-bandwidth'; parameters: { mb: number; repeats: number; threads: number[] }; durationMs: number; date: string; cpu: string; cores: number };
  measurements: CopyMeasurement[];
  /** The highest best-of-R figure over all methods and thread counts: what the machine can stream. */
  bestGBs: number;
  best: { method: string; threads: number };
  /** Why native-copy is missing, when it is. */
  note?: string;
}

function timeCopies(copy: () => void, bytes: number, repeats: number): { best: number; median: number; all: number[] } {
  copy(); // untimed: faults the pages of both buffers in and warms the code path
  const all: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    copy();
    const s = (performance.now() - t0) / 1000;
    all.push((2 * bytes) / s / 1e9);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { best: sorted[sorted.length - 1]!, median: sorted[sorted.length >> 1]!, all };
}

/** Copies a `mb` MiB Float32Array R times per method and thread count; best GB/s of each. */
export function measureBandwidth(opts: { mb?: number; repeats?: number; threads?: number[] } = {}): BandwidthResult {
  const mb = opts.mb ?? 512;
  const repeats = opts.repeats ?? 5;
  const cores = cpus().length;
  const threads = opts.threads ?? [...new Set([1, cores])];
  const t0 = performance.now();
  const n = (mb * 2 ** 20) / 4;
  const src = new Float32Array(n);
  for (let i = 0; i < n; i += 1024) src[i] = i; // touch every page of the source
  const dst = new Float32Array(n);
  const bytes = n * 4;
  const measurements: CopyMeasurement[] = [];
  const js = timeCopies(() => dst.set(src), bytes, repeats);
  measurements.push({ method: 'js-set', threads: 1, bufferBytes: bytes, bestGBs: js.best, medianGBs: js.median, allGBs: js.all });
  let note: string | undefined;
  const loaded = loadAddon();
  if ('error' in loaded) note = `native-copy not measured: ${loaded.error}`;
  else {
    const addon = loaded.addon;
    const before = addon.info().threads;
    try {
      for (const t of threads) {
        addon.setThreads(t);
        const r = timeCopies(() => addon.copy(src, dst), bytes, repeats);
        measurements.push({ method: 'native-copy', threads: t, bufferBytes: bytes, bestGBs: r.best, medianGBs: r.median, allGBs: r.all });
      }
    } finally {
      addon.setThreads(before);
    }
  }
  if (dst[1024] !== 1024) throw new Error('bandwidth: the copy did not copy'); // keeps the copies observable
  const top = measurements.reduce((a, b) => (b.bestGBs > a.bestGBs ? b : a));
  return {
    info: { method: 'copy-bandwidth', parameters: { mb, repeats, threads }, durationMs: performance.now() - t0, date: new Date().toISOString(), cpu: cpus()[0]?.model ?? 'unknown', cores },
    measurements,
    bestGBs: top.bestGBs,
    best: { method: top.method, threads: top.threads },
    ...(note ? { note } : {}),
  };
}

export interface DecodeTraffic {
  /** float32 weight bytes read per decoded token: every matrix once; of input-only tables (positions, untied token embeddings) one row. */
  weightBytes: number;
  /** KV cache bytes read per token, averaged over the decode steps (keys and values of every earlier position, every layer). */
  kvBytes: number;
  /** Mean number of positions attended per decode step. */
  meanContext: number;
  totalBytes: number;
}

/**
 * Bytes a decode step must read at least, for `decode` steps after a `promptLen`-token prefill
 * (step i, 1-based, runs position promptLen + i - 1 and attends over promptLen + i positions).
 * The tied GPT-2 embedding is counted once: the unembedding reads all of it.
 */
export function decodeTraffic(c: ModelConfig, promptLen: number, decode: number): DecodeTraffic {
  const positions = c.positional === 'learned' ? c.nCtx * c.dModel : 0;
  const inputTable = c.tieEmbeddings ? 0 : c.vocabSize * c.dModel; // untied: only the unembedding is read in full
  const rows = (c.positional === 'learned' ? c.dModel : 0) + (c.tieEmbeddings ? 0 : c.dModel);
  const weightBytes = 4 * (parameterCount(c) - positions - inputTable + rows);
  const meanContext = promptLen + (decode + 1) / 2;
  const kvBytes = 4 * 2 * c.nLayers * c.nKvHeads * c.dHead * meanContext;
  return { weightBytes, kvBytes, meanContext, totalBytes: weightBytes + kvBytes };
}

/** tokens/s that `gbs` GB/s allows when each token reads `bytes` bytes. */
export function bandwidthBound(gbs: number, bytes: number): number {
  return (gbs * 1e9) / bytes;
}

export function formatBandwidth(r: BandwidthResult): string {
  const lines = r.measurements.map((m) => `  ${m.method.padEnd(11)} ${String(m.threads).padStart(2)} thr  best ${m.bestGBs.toFixed(2)} GB/s  median ${m.medianGBs.toFixed(2)} GB/s`);
  return [`copy bandwidth (${(r.measurements[0]!.bufferBytes / 2 ** 20).toFixed(0)} MiB buffers, read + write counted, best of ${r.info.parameters.repeats}):`, ...lines, ...(r.note ? [`  ${r.note}`] : [])].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values: v } = parseArgs({ options: { mb: { type: 'string', default: '512' }, repeats: { type: 'string', default: '5' }, threads: { type: 'string' }, json: { type: 'boolean' } } });
  const mb = Number(v.mb), repeats = Number(v.repeats);
  const threads = v.threads?.split(',').map(Number);
  if (!(Number.isInteger(mb) && mb >= 1) || !(Number.isInteger(repeats) && repeats >= 1) || threads?.some((t) => !(Number.isInteger(t) && t >= 1))) {
    process.stderr.write('bench/bandwidth: --mb, --repeats and --threads take positive integers\n');
    process.exit(1);
  }
  const r = measureBandwidth({ mb, repeats, ...(threads ? { threads } : {}) });
  process.stdout.write(v.json ? JSON.stringify(r) + '\n' : `${formatBandwidth(r)}\nbest: ${r.bestGBs.toFixed(2)} GB/s (${r.best.method}, ${r.best.threads} thr)\n`);
}
