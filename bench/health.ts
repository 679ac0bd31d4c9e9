/**
 * Overhead of tensor health per mode (shape, finite, stats, full) against a plain forward pass,
 * plus the debugger driving the same pass hook by hook (no breakpoint, and a `nonfinite`
 * breakpoint on every hook point) and the load-time weight scan. Medians over repeats after a
 * warm-up, one process, current backend. Non-goals: generation loops, peak memory.
 *
 *   npx tsx bench/health.ts [--model DIR ...] [--shape gpt2-small] [--tokens 64] [--repeats 5] [--backend wasm] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initBackend, type BackendChoice } from '../src/engine/backend.js';
import { loadModel, type Model } from '../src/model/model.js';
import { healthRun, scanWeights, HEALTH_MODES } from '../src/methods/health/index.js';
import { start } from '../src/debugger/session.js';
import { promptIds, stat } from './common.js';
import { ensureModel } from './make-model.js';
import { STORIES_DIR } from '../test/helpers/fixtures.js';

interface Row { model: string; variant: string; ms: number; minMs: number; overhead: number | null; overheadMin: number | null }

function plainForward(model: Model, ids: number[]): void {
  tf.tidy(() => {
    const out = model.forward({ ids: tf.tensor2d(ids, [1, ids.length], 'int32') }, { logits: 'last' });
    out.logits!.dataSync();
  });
}

/** Runs every variant once per round (round-robin, so load drift hits all alike), after a warm-up round. */
async function rounds(variants: [string, () => unknown | Promise<unknown>][], repeats: number): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
  for (let r = -1; r < repeats; r++) {
    for (const [name, fn] of variants) {
      const t0 = performance.now();
      await fn();
      if (r >= 0) times.get(name)!.push(performance.now() - t0);
    }
  }
  return times;
}

async function benchModel(dir: string, tokens: number, repeats: number): Promise<Row[]> {
  const model = loadModel(dir);
  const ids = promptIds(Math.min(tokens, model.config.nCtx), model.config.vocabSize, 0);
  const label = dir.split('/').filter(Boolean).pop()!;
  // every variant computes the logits of the last position only, like the baseline
  const variants: [string, () => unknown | Promise<unknown>][] = [['forward (no hooks)', () => plainForward(model, ids)]];
  for (const mode of HEALTH_MODES) variants.push([`health ${mode}`, () => healthRun(model, ids, { mode })]);
  variants.push(['debugger, no breakpoint', async () => {
    await start(model, ids).continue();
  }]);
  variants.push(['debugger, * if nonfinite', async () => {
    await start(model, ids, { breakpoints: [{ condition: { kind: 'nonfinite' } }] }).continue();
  }]);
  variants.push(['weight scan (load time)', () => scanWeights(dir)]);
  const times = await rounds(variants, repeats);
  const base = stat(times.get('forward (no hooks)')!);
  const rows = [...times].map(([variant, xs]) => {
    const s = stat(xs);
    const timed = variant !== 'forward (no hooks)' && variant !== 'weight scan (load time)';
    return { model: label, variant, ms: s.median, minMs: s.min, overhead: timed ? s.median / base.median - 1 : null, overheadMin: timed ? s.min / base.min - 1 : null };
  });
  model.dispose();
  return rows;
}

const { values } = parseArgs({ options: { model: { type: 'string', multiple: true }, shape: { type: 'string' }, tokens: { type: 'string' }, repeats: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } } });
const backend = await initBackend((values.backend ?? 'wasm') as BackendChoice);
const tokens = Number(values.tokens ?? 64);
const repeats = Number(values.repeats ?? 5);
const dirs = [...(values.model ?? [])];
if (values.shape) dirs.push((await ensureModel(values.shape)).dir);
if (dirs.length === 0 && existsSync(STORIES_DIR)) dirs.push(STORIES_DIR);
const rows: Row[] = [];
for (const d of dirs) rows.push(...(await benchModel(d, tokens, repeats)));
if (values.json) process.stdout.write(JSON.stringify({ backend: backend.name, tokens, repeats, rows }) + '\n');
else {
  process.stdout.write(`backend ${backend.name}, ${tokens} tokens, median of ${repeats}\n`);
  const pct = (x: number | null) => (x === null ? '' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`);
  process.stdout.write(`${'model'.padEnd(22)} ${'variant'.padEnd(26)} ${'median'.padStart(9)}     ${'min'.padStart(9)}     overhead (median / min)\n`);
  for (const r of rows) process.stdout.write(`${r.model.padEnd(22)} ${r.variant.padEnd(26)} ${r.ms.toFixed(1).padStart(9)} ms  ${r.minMs.toFixed(1).padStart(9)} ms  ${pct(r.overhead)} / ${pct(r.overheadMin)}\n`);
}
