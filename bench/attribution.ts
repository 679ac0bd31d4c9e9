/**
 * Attribution benchmark (issue 5 §7): saliency and integrated gradients (32 steps) through the
 * public `attribute()` API on a GPT-2-small-shaped random model with a 64-token prompt, with peak
 * tensor memory, beside the PyTorch baseline (bench/torch_baseline.py) in the same run; and the
 * cost of attributing a whole continuation: one shared forward per batch (default) vs one forward
 * per continuation token vs one attribute() call per token. Non-goal: unit-test timing.
 *
 *   npx tsx bench/attribution.ts [--shape gpt2-small | --model DIR] [--backend auto|native|wasm|cpu]
 *       [--prompt-len 64] [--ig-steps 32] [--continuation 8] [--memory-mb 1024]
 *       [--what saliency,ig,continuation] [--no-torch] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel, type Model } from '../src/model/model.js';
import { attribute } from '../src/methods/attribution/attribute.js';
import type { AttributeRequest, AttributionResult } from '../src/methods/attribution/types.js';
import { ensureModel } from './make-model.js';
import { memorySnapshot, promptIds } from './common.js';
import { runTorchBaseline } from './torch.js';

interface Measure {
  name: string;
  ms: number;
  /** CPU time (user + system) of this process: robust to other processes sharing the cores. */
  cpuMs: number;
  /** Peak bytes of live tensors during the call, above what was live before it (tf.profile). */
  peakTensorMB: number;
  forwardRows: number;
  backwardRows: number;
  batchRows: number;
}

async function measure(name: string, f: () => Promise<AttributionResult | AttributionResult[]>): Promise<Measure & { result: AttributionResult[] }> {
  const before = tf.memory().numBytes;
  let out: AttributionResult[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const p = await tf.profile(async () => {
    const r = await f();
    out = Array.isArray(r) ? r : [r];
    return [];
  });
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  const cpuMs = (cu.user + cu.system) / 1000;
  const sum = (k: 'forwardRows' | 'backwardRows') => out.reduce((s, r) => s + r.info[k], 0);
  return { name, ms, cpuMs, peakTensorMB: (p.peakBytes - before) / 2 ** 20, forwardRows: sum('forwardRows'), backwardRows: sum('backwardRows'), batchRows: Math.max(...out.map((r) => r.info.batchRows)), result: out };
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      shape: { type: 'string', default: 'gpt2-small' }, model: { type: 'string' }, backend: { type: 'string', default: 'auto' },
      'prompt-len': { type: 'string', default: '64' }, 'ig-steps': { type: 'string', default: '32' }, continuation: { type: 'string', default: '8' },
      'memory-mb': { type: 'string', default: '1024' }, what: { type: 'string', default: 'saliency,ig,continuation' },
      'no-torch': { type: 'boolean' }, json: { type: 'boolean' },
    },
  });
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const backend = await initBackend(v.backend as BackendChoice);
  const dir = v.model ?? (await ensureModel(v.shape!)).dir;
  const t0 = performance.now();
  const model: Model = loadModel(dir);
  const loadMs = performance.now() - t0;
  const T = Number(v['prompt-len']);
  const steps = Number(v['ig-steps']);
  const G = Number(v.continuation);
  const memoryMB = Number(v['memory-mb']);
  const what = v.what!.split(',');
  const ids = promptIds(T, model.config.vocabSize, 0);
  log(`model ${dir} (${model.config.arch}, ${(model.nParams / 1e6).toFixed(0)}M params), backend ${backend.name} x${backend.threads}, load ${loadMs.toFixed(0)} ms`);
  const results: Measure[] = [];
  const run = async (name: string, f: () => Promise<AttributionResult | AttributionResult[]>) => {
    const m = await measure(name, f);
    const { result: _r, ...rest } = m;
    results.push(rest);
    log(`${name.padEnd(48)} ${(m.ms / 1000).toFixed(2).padStart(8)} s (cpu ${(m.cpuMs / 1000).toFixed(2)} s)  peak tensors +${m.peakTensorMB.toFixed(0)} MB  fwd rows ${m.forwardRows}  bwd rows ${m.backwardRows}  batch ${m.batchRows}`);
    return m.result;
  };
  const base: AttributeRequest = { ids, method: 'saliency', memoryMB };
  await attribute(model, { ...base, ids: ids.slice(0, 8) }); // warm-up: kernels and weight layouts
  let target: number | undefined;
  if (what.includes('saliency')) {
    const [r] = await run(`saliency, ${T} tokens`, () => attribute(model, base));
    target = r!.kind === 'single' ? r!.target.id : undefined;
  }
  if (what.includes('ig')) {
    const [r] = await run(`integrated gradients, ${steps} steps (gauss-legendre)`, () => attribute(model, { ...base, method: 'integrated-gradients', steps, ...(target !== undefined ? { target } : {}) }));
    if (r!.kind === 'single') log(`  completeness gap ${(100 * r!.completeness!.relative).toFixed(3)}%`);
    await run(`integrated gradients, ${steps} steps (riemann-trapezoid)`, () => attribute(model, { ...base, method: 'integrated-gradients', rule: 'riemann-trapezoid', steps, ...(target !== undefined ? { target } : {}) }));
  }
  if (what.includes('continuation')) {
    const prompt = ids.slice(0, T - G);
    const cont = ids.slice(T - G);
    await run(`continuation ${G} tokens, shared forward`, () => attribute(model, { ...base, ids: prompt, continuation: cont }));
    await run(`continuation ${G} tokens, forward per token`, () => attribute(model, { ...base, ids: prompt, continuation: cont, reuseForward: false }));
    await run(`continuation ${G} tokens, one call per token`, async () => {
      const out: AttributionResult[] = [];
      for (let g = 0; g < G; g++) out.push(await attribute(model, { ...base, ids: [...prompt, ...cont.slice(0, g)], target: cont[g]! }));
      return out;
    });
  }
  const mem = memorySnapshot();
  log(`peak RSS ${mem.peakRssMB.toFixed(0)} MB${mem.wasmHeapMB !== null ? `, WASM heap ${mem.wasmHeapMB.toFixed(0)} MB` : ''}`);
  let torch: unknown = null;
  if (!v['no-torch'] && (what.includes('saliency') || what.includes('ig'))) {
    log('PyTorch baseline (same model file and ids)...');
    const t = await runTorchBaseline({ model: dir, ids, decode: 1, repeats: 1, threads: [1, backend.threads].filter((x, i, a) => a.indexOf(x) === i), igSteps: steps, phases: ['saliency', 'ig'] });
    if (t.ok) {
      torch = { best: t.result.best, peakRssMB: t.result.peak_rss_mb_after };
      const b = t.result.best;
      log(`PyTorch ${t.result.torch}: saliency ${b.saliency_ms ? `${(b.saliency_ms.value / 1000).toFixed(2)} s (${b.saliency_ms.threads} threads)` : '-'}, IG ${steps} ${b.ig_ms ? `${(b.ig_ms.value / 1000).toFixed(2)} s (${b.ig_ms.threads} threads)` : '-'}`);
    } else {
      torch = { skipped: t.reason };
      log(`PyTorch baseline skipped: ${t.reason}`);
    }
  }
  if (v.json) {
    process.stdout.write(JSON.stringify({ info: { method: 'bench-attribution', model: dir, backend, promptLength: T, steps, continuation: G, memoryMB, loadMs }, results, memory: mem, torch }) + '\n');
  }
  model.dispose();
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
