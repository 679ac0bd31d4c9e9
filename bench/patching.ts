/**
 * Speed of a full residual patching sweep (every layer x 16 positions = 192 patched runs) on the
 * GPT-2-small-shaped random model (bench/make-model.ts), with and without the two reuse tricks:
 * starting each run from the corrupted run's KV cache at the patched position (positions before
 * it cannot change), and batching the runs of one position into one forward. Also checks that all
 * variants give the same numbers. Prints one JSON object on the last line.
 *
 * Every variant except `plain` reads out only the target and foil logits (not all 50257).
 *
 *   npx tsx bench/patching.ts [--positions 16] [--variants plain,naive,reuse,batch,both] [--batch 16]
 * Non-goal: other kinds of patching (same engine, same costs per patched layer and position).
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel } from '../src/model/model.js';
import { activationPatching, type PatchingResult } from '../src/methods/patching/activation.js';
import { ensureModel } from './make-model.js';
import { load1, promptIds } from './common.js';

const VARIANTS = {
  // plain: what a loop over model runs does (full logits, every run from scratch, one at a time)
  plain: { reuse: false, batch: 1, full: true },
  naive: { reuse: false, batch: 1, full: false },
  reuse: { reuse: true, batch: 1, full: false },
  batch: { reuse: false, batch: 0, full: false },
  both: { reuse: true, batch: 0, full: false },
} as const;

const { values } = parseArgs({ options: { positions: { type: 'string' }, variants: { type: 'string' }, batch: { type: 'string' }, backend: { type: 'string' } } });
const T = Number(values.positions ?? 16);
const B = Number(values.batch ?? 16);
const names = (values.variants ?? 'plain,naive,reuse,batch,both').split(',') as (keyof typeof VARIANTS)[];

const backend = await initBackend((values.backend ?? process.env['LLMDBG_BACKEND'] ?? 'auto') as BackendChoice);
const made = await ensureModel('gpt2-small');
const model = loadModel(made.dir);
const V = model.config.vocabSize;
const clean = promptIds(T, V, 0);
const corrupt = [...clean];
corrupt[3] = (corrupt[3]! + 1) % V;
corrupt[9] = (corrupt[9]! + 7) % V;

// one plain forward (T positions, last-position logits) as the unit of cost
const fwd = () => tf.tidy(() => { model.forward({ ids: model.idsTensor([corrupt]) }, { logits: 'last' }).logits!.dataSync(); });
fwd();
const t0 = performance.now();
for (let i = 0; i < 3; i++) fwd();
const forwardMs = (performance.now() - t0) / 3;
process.stderr.write(`backend ${backend.name} (${backend.threads} thread${backend.threads === 1 ? '' : 's'}); one forward of ${T} tokens: ${forwardMs.toFixed(1)} ms; naive sweep estimate ${(forwardMs * model.config.nLayers * T / 1000).toFixed(1)} s\n`);

const out: Record<string, unknown> = {};
let ref: PatchingResult | null = null;
for (const name of names) {
  const v = VARIANTS[name];
  const batch = v.batch || B;
  const n0 = tf.memory().numTensors;
  const load = load1();
  const cpu0 = process.cpuUsage();
  const s = performance.now();
  const r = await activationPatching(model, clean, corrupt, { kind: 'resid_pre', reuse: v.reuse, maxBatch: batch, keepLogits: v.full });
  const ms = performance.now() - s;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  let maxDiff = 0;
  if (ref) ref.values.forEach((row, i) => row.forEach((x, j) => { maxDiff = Math.max(maxDiff, Math.abs(x - r.values[i]![j]!)); }));
  ref ??= r;
  out[name] = { ms: Math.round(ms), cpuMs: Math.round(cpuMs), load1AtStart: load, runs: r.info.runs, reuse: v.reuse, maxBatch: batch, allLogits: v.full, positionsComputed: r.info.positionsComputed, maxAbsDiffVsFirst: maxDiff, leakedTensors: tf.memory().numTensors - n0 };
  process.stderr.write(`${name.padEnd(6)} reuse=${v.reuse} batch=${String(batch).padEnd(3)} all-logits=${v.full} ${(ms / 1000).toFixed(2)} s (cpu ${(cpuMs / 1000).toFixed(2)} s, load ${load.toFixed(1)})  positions computed ${r.info.positionsComputed}  max |dLD| vs first ${maxDiff.toExponential(1)}\n`);
}
console.log(JSON.stringify({ bench: 'patching', model: 'gpt2-small-random', backend: backend.name, threads: backend.threads, layers: model.config.nLayers, positions: T, forwardMs: Math.round(forwardMs), variants: out }));
model.dispose();
