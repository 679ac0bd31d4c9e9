/**
 * `--max-model` probe: the largest GPT-2-shaped model (124M, 355M, 774M, 1.56B, 2.65B, 4.69B
 * parameters, float32) that loads and runs one forward (8 tokens) on the chosen backend, each try in
 * a fresh process, stopping at the first failure and reporting its error. The WASM heap is 32-bit
 * (4 GB at most); 4.69B (18.8 GB) is the largest that can fit a 24 GiB machine's memory.
 * Slow and disk-hungry (the 4.69B model is an 18.8 GB file, written in about 2 minutes): opt-in. Probe models other than
 * gpt2-small are deleted afterwards unless `keep` is set.
 * Non-goals: finding the exact byte limit between two shapes.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_ROOT, defaultModelDir, parameterCountOf, SHAPES } from './make-model.js';
import { lastJson, lastLine, runChild, runWorker } from './common.js';
import { checkFitsBackend } from '../src/model/model.js';

export const PROBE_SHAPES = ['gpt2-small', 'gpt2-medium', 'gpt2-large', 'gpt2-xl', 'gpt2-2.7b', 'gpt2-4.7b'] as const;

export interface Probe {
  shape: string;
  parameters: number;
  weightMB: number;
  ok: boolean;
  loadMs?: number;
  peakRssMB?: number;
  wasmHeapMB?: number | null;
  error?: string;
}

export interface ProbeResult {
  backend: string;
  largest: string | null;
  largestParameters: number | null;
  probes: Probe[];
}

export async function probeMaxModel(o: { backend: string; keep: boolean; log: (m: string) => void }): Promise<ProbeResult> {
  const probes: Probe[] = [];
  let largest: Probe | null = null;
  for (const shape of PROBE_SHAPES) {
    const parameters = parameterCountOf(SHAPES[shape]!);
    const dir = defaultModelDir(shape);
    const probe: Probe = { shape, parameters, weightMB: (parameters * 4) / 2 ** 20, ok: false };
    try {
      checkFitsBackend(parameters * 4, o.backend, shape); // refused on load anyway: spare writing the file
    } catch (e) {
      probe.error = (e as Error).message;
      probes.push(probe);
      break;
    }
    o.log(`max-model: writing ${shape} (${(parameters / 1e6).toFixed(0)}M parameters)...`);
    // A separate process, so the generator's buffers are gone before the model is loaded.
    const made = await runChild(process.execPath, ['--import', 'tsx', join(BENCH_ROOT, 'make-model.ts'), '--shape', shape, '--out', dir], { cwd: join(BENCH_ROOT, '..') });
    if (made.code !== 0 || !lastJson(made.stdout)) {
      probe.error = `could not write the model: ${lastLine(made.stderr)}`;
      probes.push(probe);
      break;
    }
    o.log(`max-model: loading ${shape} on ${o.backend}...`);
    try {
      const r = await runWorker('load', { model: dir, backend: o.backend, promptLen: 8, decode: 2, repeats: 1, igSteps: 2 });
      Object.assign(probe, { ok: true, loadMs: r.loadMs, peakRssMB: r.memEnd.peakRssMB, wasmHeapMB: r.memEnd.wasmHeapMB });
      largest = probe;
    } catch (e) {
      probe.error = (e as Error).message;
    }
    probes.push(probe);
    if (!o.keep && shape !== 'gpt2-small') rmSync(dir, { recursive: true, force: true });
    if (!probe.ok) break;
  }
  return { backend: o.backend, largest: largest?.shape ?? null, largestParameters: largest?.parameters ?? null, probes };
}
