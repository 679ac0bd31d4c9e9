/**
 * One benchmark measurement in a fresh process (spawned by bench/runtime.ts): load the model, then
 * time one phase (load | prefill | decode | saliency | ig) after a warm-up, and print ONE JSON line
 * with timings, memory (peak RSS of this process, WASM heap size, live tensor bytes) and numbers
 * that runtime.ts cross-checks against the PyTorch baseline.
 * Non-goals: printing tables (runtime.ts does), methods beyond what the benchmark needs.
 *
 *   node --import tsx bench/worker.ts --model DIR --phase prefill [--backend wasm] [--prompt-len 64]
 *        [--decode 32] [--repeats 3] [--ig-steps 32]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel, type Model } from '../src/model/model.js';
import { generate } from '../src/model/generate.js';
import { registerGradients } from '../src/engine/gradients.js';
import { attribute } from '../src/methods/attribution/attribute.js';
import { cpuMs, memorySnapshot, promptIds, stat, type MemorySnapshot, type Stat } from './common.js';

export const PHASES = ['load', 'prefill', 'decode', 'saliency', 'ig'] as const;
export type Phase = (typeof PHASES)[number];

export interface WorkerResult {
  phase: Phase;
  backend: string;
  threads: number;
  parameters: number;
  loadMs: number;
  memBeforeLoad: MemorySnapshot;
  memAfterLoad: MemorySnapshot;
  memEnd: MemorySnapshot;
  prefillMs?: Stat;
  decodeTokPerSec?: Stat;
  /** Raw forward + backward (the same work as the PyTorch baseline). */
  saliencyMs?: Stat;
  /** The library's `attribute(method: 'saliency')`, which also runs one forward for the target's log-prob. */
  attributeSaliencyMs?: Stat;
  /** The library's `attribute(method: 'integrated-gradients')`, zero baseline, trapezoid rule; batch = rows per pass it chose. */
  igMs?: Stat & { steps: number; batch: number };
  check: Record<string, unknown>;
  /** Tensors alive at the end minus after load (0 means nothing leaked). */
  leakedTensors: number;
}

/** Last-position logits of the prompt, as host data [V]. */
function lastLogits(model: Model, ids: number[]): Float32Array {
  const l = tf.tidy(() => model.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, { logits: 'last' }).logits!); // [1, 1, V]
  const data = l.dataSync() as Float32Array;
  l.dispose();
  return data;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

function logSumExp(x: Float32Array): number {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let s = 0;
  for (const v of x) s += Math.exp(v - m);
  return m + Math.log(s);
}

/** d log p(target | prompt) / d token embeddings: one forward + one backward. Returns [T, C] host data. */
function saliency(model: Model, ids: number[], target: number): { logprob: number; grad: Float32Array } {
  const T = ids.length;
  const out = tf.tidy(() => {
    const embeds = tf.gather(model.params.wte, tf.tensor2d(ids, [1, T], 'int32')) as unknown as tf.Tensor3D; // [1, T, C]
    const { value, grad } = tf.valueAndGrad((e: tf.Tensor) => {
      const l = model.forward({ embeds: e as tf.Tensor3D }, { logits: 'last' }).logits!; // [1, 1, V]
      return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, target], [1, 1]), []);
    })(embeds);
    return [value, grad];
  });
  const logprob = out[0]!.dataSync()[0]!;
  const grad = (out[1]!.dataSync() as Float32Array).slice();
  tf.dispose(out);
  return { logprob, grad };
}

function norm(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

function rowNorms(x: Float32Array, rows: number): number[] {
  const C = x.length / rows;
  return Array.from({ length: rows }, (_, r) => norm(x.subarray(r * C, (r + 1) * C)));
}

function timeIt(fn: () => void, repeats: number): Stat {
  fn(); // warm-up: kernels compile, XNNPACK packs weights
  const ts: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
    cpu.push(cpuMs() - c0);
  }
  return stat(ts, cpu);
}

/** Like timeIt for an async function; returns the last result too. */
async function timeAsync<T>(fn: () => Promise<T>, repeats: number, warmUp = true): Promise<{ stat: Stat; last: T }> {
  let last = warmUp ? await fn() : (undefined as T);
  const ts: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    last = await fn();
    ts.push(performance.now() - t0);
    cpu.push(cpuMs() - c0);
  }
  return { stat: stat(ts, cpu), last };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' }, phase: { type: 'string' }, backend: { type: 'string', default: 'wasm' },
      'prompt-len': { type: 'string', default: '64' }, decode: { type: 'string', default: '32' }, repeats: { type: 'string', default: '3' },
      'ig-steps': { type: 'string', default: '32' }, seed: { type: 'string', default: '0' },
    },
  });
  const phase = v.phase as Phase;
  if (!PHASES.includes(phase)) throw new Error(`--phase must be one of ${PHASES.join(', ')}`);
  if (!v.model) throw new Error('--model DIR is required');
  const backend = await initBackend(v.backend as BackendChoice);
  registerGradients(); // tfjs-core's Node bundle registers no gradients by itself
  const T = Number(v['prompt-len']), M = Number(v.decode), R = Number(v.repeats);
  const igSteps = Number(v['ig-steps']);
  const memBeforeLoad = memorySnapshot();
  const t0 = performance.now();
  const model = loadModel(v.model);
  const loadMs = performance.now() - t0;
  const memAfterLoad = memorySnapshot();
  const ids = promptIds(T, model.config.vocabSize, Number(v.seed));
  model.checkIds(ids, phase === 'decode' ? M + 1 : 0);
  const res: WorkerResult = {
    phase, backend: backend.name, threads: backend.threads, parameters: model.nParams, loadMs,
    memBeforeLoad, memAfterLoad, memEnd: memAfterLoad, check: {}, leakedTensors: 0,
  };
  const logits = lastLogits(model, ids); // also the warm-up of the load phase
  const target = argmax(logits);
  res.check = { prefillTopId: target, prefillTopLogit: logits[target], prefillLogSumExp: logSumExp(logits) };

  if (phase === 'prefill') {
    res.prefillMs = timeIt(() => void lastLogits(model, ids), R);
  } else if (phase === 'decode') {
    await generate(model, ids, { maxNewTokens: 3, stopAtEos: false }); // warm-up of the one-token shapes
    const rates: number[] = [];
    const cpuRates: number[] = [];
    let greedy: number[] = [];
    for (let r = 0; r < R; r++) {
      const at: number[] = [];
      const cpuAt: number[] = [];
      const g = await generate(model, ids, { maxNewTokens: M + 1, stopAtEos: false }, () => {
        at.push(performance.now());
        cpuAt.push(cpuMs());
      });
      // step 0 is the prefill; steps 1..M each run one new position through the model with the KV cache
      rates.push((M / (at[M]! - at[0]!)) * 1000);
      cpuRates.push((M / (cpuAt[M]! - cpuAt[0]!)) * 1000);
      greedy = g.generated;
    }
    res.decodeTokPerSec = stat(rates, cpuRates); // cpuMedian here is tokens per CPU-second
    res.check['greedyIds'] = greedy;
  } else if (phase === 'saliency') {
    res.saliencyMs = timeIt(() => void saliency(model, ids, target), R);
    const s = saliency(model, ids, target);
    Object.assign(res.check, { saliencyLogprob: s.logprob, saliencyGradNorm: norm(s.grad), saliencyRowNorms: rowNorms(s.grad, T) });
    const lib = await timeAsync(() => attribute(model, { ids, method: 'saliency', target }), R);
    res.attributeSaliencyMs = lib.stat;
    res.check['attributeSaliencyScores'] = lib.last.scores;
  } else if (phase === 'ig') {
    // The same protocol as the PyTorch baseline (bench/torch_baseline.py): one full-size warm-up
    // run, then the median of min(R, 2) timed runs. (Until 2026-12-04 the warm-up had 2 steps, so
    // the timed run alone paid the first touch of its ~1 GB of activations: ~10% slower.)
    const req = { ids, method: 'integrated-gradients' as const, target, steps: igSteps, rule: 'riemann-trapezoid' as const, baseline: { kind: 'zero' as const } };
    const r = await timeAsync(() => attribute(model, req), Math.max(1, Math.min(R, 2)));
    res.igMs = { ...r.stat, steps: igSteps, batch: r.last.info.batchRows };
    const comp = r.last.kind === 'single' ? r.last.completeness : null;
    Object.assign(res.check, { igAttr: r.last.scores, igFInput: comp?.fInput, igFBaseline: comp?.fBaseline, igRelativeDelta: comp?.relative });
  }
  res.memEnd = memorySnapshot();
  res.leakedTensors = res.memEnd.numTensors - memAfterLoad.numTensors;
  model.dispose();
  process.stdout.write(JSON.stringify(res) + '\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    process.stderr.write(`worker: ${(e as Error).message ?? String(e)}\n${(e as Error).stack ?? ''}\n`);
    process.exit(1);
  });
}
