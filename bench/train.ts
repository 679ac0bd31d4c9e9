/**
 * Training benchmark line: tokens/s and peak memory of `train()` for one model configuration
 * (default: the demo-model candidate, Llama d_model 128, 4 layers, 4 heads, vocab 384, seq 48,
 * batch 32) on random tokens, plus what a 20-minute budget buys at that speed.
 * Usage: node --import tsx bench/train.ts [--backend wasm|cpu|native|wasm,native] [--steps N] [--d-model C]
 *        [--layers L] [--heads H] [--kv-heads K] [--vocab V] [--seq T] [--batch B] [--micro M] [--arch llama|gpt2]
 * Several backends (comma-separated) run one after the other, each in a fresh process (peak RSS is
 * per process), and the last line compares them: tokens/s of each against the first.
 * The demo model's configuration: --vocab 382 --seq 40 --batch 48 --kv-heads 2 (tools/train-demo.ts).
 * Non-goals: convergence (the tokens are random); the first 2 steps (kernel warm-up) are excluded.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { runChild, lastJson, lastLine } from './common.js';
import { loadavg } from 'node:os';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { Rng } from '../src/engine/rng.js';
import { newModelConfig } from '../src/model/init.js';
import { parameterCount } from '../src/formats/config.js';
import { disposeParams } from '../src/model/params.js';
import { ExampleSource } from '../src/train/data.js';
import { train } from '../src/train/trainer.js';

const { values: a } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' }, steps: { type: 'string', default: '8' }, 'd-model': { type: 'string', default: '128' },
    layers: { type: 'string', default: '4' }, heads: { type: 'string', default: '4' }, 'kv-heads': { type: 'string' }, vocab: { type: 'string', default: '384' },
    seq: { type: 'string', default: '48' }, batch: { type: 'string', default: '32' }, micro: { type: 'string' }, arch: { type: 'string', default: 'llama' },
  },
});
const num = (k: keyof typeof a) => Number(a[k]);
if (a.backend!.includes(',')) await compare(a.backend!.split(','));
const backend = await initBackend(a.backend as BackendChoice);
const config = newModelConfig({
  arch: a.arch as 'llama' | 'gpt2', dModel: num('d-model'), nLayers: num('layers'), nHeads: num('heads'),
  ...(a['kv-heads'] ? { nKvHeads: num('kv-heads') } : {}), vocabSize: num('vocab'), nCtx: Math.max(64, num('seq')), tieEmbeddings: true,
});
const rng = new Rng(1);
const examples = Array.from({ length: 2000 }, () => ({ ids: Array.from({ length: 8 + rng.int(40) }, () => rng.int(config.vocabSize)) }));
const B = num('batch'), T = num('seq'), steps = num('steps');
const stamps: number[] = [];
const t0 = performance.now();
const r = await train({ init: { config, seed: 0 }, data: new ExampleSource(examples, { seed: 0 }), steps, batchSize: B, ...(a.micro ? { microBatch: num('micro') } : {}), seqLen: T, lr: 1e-3, warmup: 1, logEvery: 1, onProgress: () => stamps.push(performance.now()) });
const total = (performance.now() - t0) / 1000;
disposeParams(r.params);
const warm = Math.min(2, steps - 1);
const sec = (stamps.at(-1)! - stamps[warm - 1]!) / 1000;
const tokensPerSec = ((steps - warm) * B * T) / sec;
const result = {
  bench: 'train', backend: backend.name, threads: backend.threads, arch: config.arch, dModel: config.dModel, layers: config.nLayers, heads: config.nHeads,
  vocab: config.vocabSize, seqLen: T, batchSize: B, microBatch: a.micro ? num('micro') : B, parameters: parameterCount(config), weightsMB: +((parameterCount(config) * 4) / 2 ** 20).toFixed(2),
  steps, secPerStep: +(sec / (steps - warm)).toFixed(3), tokensPerSec: Math.round(tokensPerSec), firstStepsSec: +((stamps[warm - 1]! - t0) / 1000).toFixed(2),
  totalSec: +total.toFixed(1), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  in20min: { steps: Math.floor((1200 / sec) * (steps - warm)), tokens: Math.round(1200 * tokensPerSec) }, loadavg1: +loadavg()[0]!.toFixed(2),
};
console.log(JSON.stringify(result));
console.error(`train ${result.arch} d${result.dModel} L${result.layers} H${result.heads} V${result.vocab} [${B}x${T}]${result.microBatch < B ? ` micro ${result.microBatch}` : ''} on ${result.backend}: ${result.tokensPerSec} tok/s, ${result.secPerStep} s/step, peak RSS ${result.peakRssMB} MB; 20 min = ${result.in20min.steps} steps / ${(result.in20min.tokens / 1e6).toFixed(2)}M tokens (load ${result.loadavg1})`);

/** Runs this benchmark once per backend in fresh processes and prints each result, then the ratios. */
async function compare(backends: string[]): Promise<never> {
  const args = process.argv.slice(2).filter((x, i, all) => x !== '--backend' && all[i - 1] !== '--backend' && !x.startsWith('--backend='));
  const runs: Record<string, unknown>[] = [];
  for (const b of backends) {
    const r = await runChild(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--backend', b, ...args], { env: { LLMDBG_BACKEND: undefined } });
    process.stderr.write(r.stderr.split('\n').filter((l) => l.startsWith('train ')).join('\n') + '\n');
    const j = lastJson<Record<string, unknown>>(r.stdout);
    if (r.code !== 0 || !j) {
      console.error(`bench/train: the ${b} run failed (exit ${r.code}): ${lastLine(r.stderr)}`);
      process.exit(1);
    }
    console.log(JSON.stringify(j));
    runs.push(j);
  }
  const base = runs[0]!;
  const ratios = Object.fromEntries(runs.slice(1).map((r) => [`${r['backend']}/${base['backend']}`, +(Number(r['tokensPerSec']) / Number(base['tokensPerSec'])).toFixed(2)]));
  console.log(JSON.stringify({ bench: 'train-compare', tokensPerSec: Object.fromEntries(runs.map((r) => [r['backend'], r['tokensPerSec']])), peakRssMB: Object.fromEntries(runs.map((r) => [r['backend'], r['peakRssMB']])), ratios }));
  console.error(`tokens/s ratios: ${Object.entries(ratios).map(([k, v]) => `${k} ${v}x`).join(', ')}`);
  process.exit(0);
}
