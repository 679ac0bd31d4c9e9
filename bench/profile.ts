/**
 * Where the time goes: runs prefill, one decode step and a saliency pass under `tf.profile`, after
 * a warm-up (and integrated gradients with --what ig), and prints kernel time by kernel name and the most expensive single kernels with
 * their shapes. Wall time is printed beside the kernel total (the gap is JS overhead).
 * Non-goals: timing targets (runtime.ts), micro-benchmarks of single ops (experiments.ts).
 *
 *   npx tsx bench/profile.ts [--model DIR] [--backend wasm] [--prompt-len 64] [--what prefill,decode,saliency,ig] [--ig-steps 32] [--top 15] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel, type Model } from '../src/model/model.js';
import type { KVCache } from '../src/model/forward.js';
import { registerGradients } from '../src/engine/gradients.js';
import { defaultModelDir, ensureModel } from './make-model.js';
import { promptIds } from './common.js';
import { attribute } from '../src/methods/attribution/attribute.js';

interface KernelCost { name: string; ms: number; calls: number }
interface TopKernel { name: string; ms: number; inputs: string; output: string }
export interface ProfileReport { what: string; wallMs: number; kernelMs: number; byKernel: KernelCost[]; top: TopKernel[]; newBytes: number; peakBytes: number }

/** Profiles `fn` once (after the caller's warm-up). */
async function profile(what: string, fn: () => void | Promise<void>, top: number): Promise<ProfileReport> {
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await fn();
    return [] as unknown as tf.TensorContainer;
  });
  const wallMs = performance.now() - t0;
  const by = new Map<string, KernelCost>();
  const all: TopKernel[] = [];
  let kernelMs = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    kernelMs += ms;
    const e = by.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    by.set(k.name, e);
    all.push({ name: k.name, ms, inputs: k.inputShapes.map((s) => `[${s?.join(',')}]`).join(' '), output: k.outputShapes.map((s) => `[${s?.join(',')}]`).join(' ') });
  }
  return {
    what, wallMs, kernelMs,
    byKernel: [...by.values()].sort((a, b) => b.ms - a.ms).slice(0, top),
    top: all.sort((a, b) => b.ms - a.ms).slice(0, top),
    newBytes: info.newBytes, peakBytes: info.peakBytes,
  };
}

function prefill(model: Model, ids: number[]): void {
  tf.tidy(() => void model.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, { logits: 'last' }).logits!.dataSync());
}

function saliency(model: Model, ids: number[], target: number): void {
  tf.tidy(() => {
    const embeds = tf.gather(model.params.wte, tf.tensor2d(ids, [1, ids.length], 'int32')) as unknown as tf.Tensor3D;
    tf.grad((e: tf.Tensor) => {
      const l = model.forward({ embeds: e as tf.Tensor3D }, { logits: 'last' }).logits!;
      return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, target], [1, 1]), []);
    })(embeds).dataSync();
  });
}

function printReport(r: ProfileReport): void {
  const out = (s: string) => process.stdout.write(s + '\n');
  out(`\n== ${r.what}: wall ${r.wallMs.toFixed(1)} ms, kernels ${r.kernelMs.toFixed(1)} ms, peak ${(r.peakBytes / 2 ** 20).toFixed(0)} MB of tensors`);
  out('  by kernel:');
  for (const k of r.byKernel) out(`    ${k.name.padEnd(22)} ${k.ms.toFixed(1).padStart(9)} ms ${((100 * k.ms) / Math.max(r.kernelMs, 1e-9)).toFixed(1).padStart(5)}%  ${k.calls} calls`);
  out('  most expensive kernels:');
  for (const k of r.top) out(`    ${k.name.padEnd(22)} ${k.ms.toFixed(2).padStart(9)} ms  ${k.inputs} -> ${k.output}`);
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      model: { type: 'string' }, backend: { type: 'string', default: 'wasm' }, 'prompt-len': { type: 'string', default: '64' },
      what: { type: 'string', default: 'prefill,decode,saliency' }, top: { type: 'string', default: '15' }, 'ig-steps': { type: 'string', default: '32' }, json: { type: 'boolean' },
    },
  });
  const backend = await initBackend(v.backend as BackendChoice);
  registerGradients();
  const dir = v.model ?? (await ensureModel('gpt2-small')).dir ?? defaultModelDir('gpt2-small');
  const model = loadModel(dir);
  const T = Number(v['prompt-len']);
  const top = Number(v.top);
  const ids = promptIds(T, model.config.vocabSize);
  const what = v.what!.split(',');
  const reports: ProfileReport[] = [];
  prefill(model, ids); // warm-up: XNNPACK packs every weight on first use
  const target = tf.tidy(() => tf.argMax(tf.reshape(model.forward({ ids: tf.tensor2d(ids, [1, T], 'int32') }, { logits: 'last' }).logits!, [-1])).dataSync()[0]!);
  if (what.includes('prefill')) reports.push(await profile(`prefill ${T} tokens`, () => prefill(model, ids), top));
  if (what.includes('decode')) {
    const kv = tf.tidy(() => model.forward({ ids: tf.tensor2d(ids, [1, T], 'int32') }, { logits: 'none' }).kv as unknown as tf.TensorContainer) as unknown as KVCache;
    const step = () => tf.tidy(() => void model.forward({ ids: tf.tensor2d([target], [1, 1], 'int32'), past: kv }, { logits: 'last' }).logits!.dataSync());
    step(); // warm-up of the one-row shapes
    reports.push(await profile(`decode step at position ${T}`, step, top));
    for (const l of kv.layers) tf.dispose([l.k, l.v]);
  }
  if (what.includes('saliency')) {
    saliency(model, ids, target); // warm-up: the backward uses weights in new layouts
    reports.push(await profile(`saliency ${T} tokens`, () => saliency(model, ids, target), top));
  }
  if (what.includes('ig')) {
    const req = { ids, method: 'integrated-gradients' as const, target, steps: Number(v['ig-steps']), rule: 'riemann-trapezoid' as const, baseline: { kind: 'zero' as const } };
    await attribute(model, req); // full-size warm-up (as bench/runtime.ts): the timed run then reuses warm memory
    reports.push(await profile(`integrated gradients ${T} tokens, ${req.steps} steps`, async () => void (await attribute(model, req)), top));
  }
  model.dispose();
  if (v.json) process.stdout.write(JSON.stringify({ info: { method: 'profile', backend: backend.name, model: dir, promptLen: T }, reports }) + '\n');
  else {
    process.stdout.write(`backend ${backend.name}, model ${dir}\n`);
    reports.forEach(printReport);
  }
}

main().catch((e) => {
  process.stderr.write(`bench/profile: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
