/**
 * "What if" measurements on the real benchmark model, each variant in its own process:
 *   decode   greedy decode steps with the [C, V] unembedding copy loadModel keeps on WASM, against
 *            no copy (the transposed product, which the WASM kernel now runs weight on the left)
 *   saliency forward + backward with the stock WASM kernels (copying Identity, dY W^T through an
 *            explicit transpose), then cumulatively the two changes landed on 2026-12-03: the
 *            data-sharing Identity and the weight-on-left rule (their process-wide switches)
 * All variants run on the XNNPACK route (setWasmMatMul), where these changes were made; llmdbg's own
 * WASM kernel (the default since 2026-12-04) keeps neither the [C, V] copy nor packed weights.
 * Non-goals: being the implementation; the numbers size and check the changes.
 *
 *   npx tsx bench/whatif.ts [--model DIR] [--backend wasm] [--prompt-len 64] [--steps 16] [--repeats 3] [--json]
 * Each variant runs in its own process (kernel and gradient registrations are process-wide).
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel, type Model } from '../src/model/model.js';
import type { KVCache } from '../src/model/forward.js';
import { setWasmMatMul, setWeightOnLeft } from '../src/engine/wasm-matmul.js';
import { setIdentitySharing } from '../src/engine/wasm-identity.js';
import { BENCH_ROOT, ensureModel } from './make-model.js';
import { cpuMs, lastJson, lastLine, memorySnapshot, promptIds, runChild, stat, type Stat } from './common.js';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

function disposeKV(kv: KVCache): void {
  for (const l of kv.layers) tf.dispose([l.k, l.v]);
}

/** Greedy decode of `steps` positions after the prompt; `step` returns the next logits row [V] and the new cache. */
function decodeRun(model: Model, ids: number[], steps: number, step: (id: number, past: KVCache) => { row: tf.Tensor; kv: KVCache }): { ms: number; cpu: number; ids: number[] } {
  let kv = tf.tidy(() => model.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, { logits: 'none' }).kv as unknown as tf.TensorContainer) as unknown as KVCache;
  let id = ids[ids.length - 1]!;
  const out: number[] = [];
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    const r = step(id, kv);
    disposeKV(kv);
    kv = r.kv;
    const a = tf.argMax(r.row);
    id = a.dataSync()[0]!;
    tf.dispose([a, r.row]);
    out.push(id);
  }
  const ms = performance.now() - t0;
  const cpu = cpuMs() - c0;
  disposeKV(kv);
  return { ms, cpu, ids: out };
}

function saliencyOnce(model: Model, ids: number[], target: number): number {
  return tf.tidy(() => {
    const embeds = tf.gather(model.params.wte, tf.tensor2d(ids, [1, ids.length], 'int32')) as unknown as tf.Tensor3D;
    const g = tf.grad((e: tf.Tensor) => {
      const l = model.forward({ embeds: e as tf.Tensor3D }, { logits: 'last' }).logits!;
      return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, target], [1, 1]), []);
    })(embeds);
    return tf.sum(tf.square(g)).dataSync()[0]!;
  });
}

function timed(fn: () => void, repeats: number): Stat {
  fn();
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

const DECODE_VARIANTS = [
  'matMul(h, wUT)  ([C, V] copy, as loadModel keeps on WASM)',
  'matMul(h, wU, false, true)  (no copy: the kernel runs it weight on the left)',
];
const SALIENCY_VARIANTS = [
  'stock WASM kernels: copying Identity, no weight on the left',
  '+ Identity sharing data (src/engine/wasm-identity.ts)',
  '+ weight on the left for dY W^T (src/engine/wasm-matmul.ts): the tree as is',
];

interface VariantResult { part: string; variant: number; name: string; value: number; cpuValue: number; unit: string; check: string; peakRssMB: number; wasmHeapMB: number | null }

async function runVariant(part: 'decode' | 'saliency', variant: number, a: { model?: string; backend: string; T: number; steps: number; R: number }): Promise<VariantResult> {
  await initBackend(a.backend as BackendChoice);
  // These variants are steps of the XNNPACK route (before llmdbg's own WASM kernel became the default).
  setWasmMatMul('xnnpack');
  if (part === 'saliency') {
    setIdentitySharing(variant >= 1);
    setWeightOnLeft(variant >= 2);
  }
  const model = loadModel(a.model ?? (await ensureModel('gpt2-small')).dir);
  const ids = promptIds(a.T, model.config.vocabSize);
  const wUT = model.params.wUT;
  let result: VariantResult;
  if (part === 'decode') {
    if (variant === 1 && wUT) {
      delete model.params.wUT; // forward.ts then issues matMul(h, wU, false, true)
      wUT.dispose();
    }
    const logitsStep = (id: number, past: KVCache) => {
      const r = tf.tidy(() => {
        const o = model.forward({ ids: tf.tensor2d([id], [1, 1], 'int32'), past }, { logits: 'last' });
        return { row: tf.reshape(o.logits!, [-1]), kv: o.kv } as unknown as tf.TensorContainer;
      });
      return r as unknown as { row: tf.Tensor; kv: KVCache };
    };
    decodeRun(model, ids, 2, logitsStep); // warm-up
    const runs = Array.from({ length: a.R }, () => decodeRun(model, ids, a.steps, logitsStep));
    const tps = stat(runs.map((r) => (a.steps / r.ms) * 1000), runs.map((r) => (a.steps / r.cpu) * 1000));
    result = { part, variant, name: DECODE_VARIANTS[variant]!, value: tps.median, cpuValue: tps.cpuMedian!, unit: 'tok/s', check: `ids ${runs[0]!.ids.slice(0, 6).join(',')}`, peakRssMB: 0, wasmHeapMB: null };
  } else {
    const target = tf.tidy(() => tf.argMax(tf.reshape(model.forward({ ids: tf.tensor2d(ids, [1, a.T], 'int32') }, { logits: 'last' }).logits!, [-1])).dataSync()[0]!);
    let n = 0;
    const s = timed(() => void (n = saliencyOnce(model, ids, target)), a.R);
    result = { part, variant, name: SALIENCY_VARIANTS[variant]!, value: s.median, cpuValue: s.cpuMedian!, unit: 'ms', check: `|grad|^2 ${n.toPrecision(7)}`, peakRssMB: 0, wasmHeapMB: null };
  }
  const m = memorySnapshot();
  model.dispose();
  return { ...result, peakRssMB: m.peakRssMB, wasmHeapMB: m.wasmHeapMB };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' }, backend: { type: 'string', default: 'wasm' }, 'prompt-len': { type: 'string', default: '64' }, steps: { type: 'string', default: '16' },
      repeats: { type: 'string', default: '3' }, part: { type: 'string' }, variant: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  const a = { ...(v.model ? { model: v.model } : {}), backend: v.backend!, T: Number(v['prompt-len']), steps: Number(v.steps), R: Number(v.repeats) };
  if (v.part) {
    process.stdout.write(JSON.stringify(await runVariant(v.part as 'decode' | 'saliency', Number(v.variant), a)) + '\n');
    return;
  }
  // Each variant in its own process: registrations are process-wide and peak RSS is per process.
  const results: VariantResult[] = [];
  const say = (s: string) => process.stderr.write(s + '\n');
  for (const [part, n] of [['decode', DECODE_VARIANTS.length], ['saliency', SALIENCY_VARIANTS.length]] as const) {
    for (let i = 0; i < n; i++) {
      const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--part', part, '--variant', String(i), '--backend', a.backend, '--prompt-len', String(a.T), '--steps', String(a.steps), '--repeats', String(a.R), ...(v.model ? ['--model', v.model] : [])];
      const r = await runChild(process.execPath, args, { cwd: join(BENCH_ROOT, '..') });
      const res = lastJson<VariantResult>(r.stdout);
      if (!res) {
        say(`${part} variant ${i} failed: ${lastLine(r.stderr)}`);
        continue;
      }
      results.push(res);
      say(`${part.padEnd(8)} ${res.name.padEnd(64)} ${res.value.toFixed(res.unit === 'ms' ? 0 : 2).padStart(7)} ${res.unit} (CPU: ${res.cpuValue.toFixed(res.unit === 'ms' ? 0 : 2)})  peak RSS ${res.peakRssMB.toFixed(0)} MB  ${res.check}`);
    }
  }
  if (v.json) process.stdout.write(JSON.stringify({ info: { method: 'whatif', backend: a.backend, promptLen: a.T, decodeSteps: a.steps, repeats: a.R, date: new Date().toISOString() }, results }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench/whatif: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
