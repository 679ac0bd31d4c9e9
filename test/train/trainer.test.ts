/**
 * The training loop: learning happens (toy progressions), runs are bit-for-bit deterministic,
 * no tensors leak, progress reports are sane, checkpoints are Hugging Face folders, an aborted
 * run and a SIGKILLed child process both resume to exactly the weights of an uninterrupted run,
 * and mismatched or damaged checkpoints are handled.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { useTestBackend } from '../helpers/backend.js';
import { ROOT } from '../helpers/fixtures.js';
import { train, type TrainProgress, type TrainResult } from '../../src/train/trainer.js';
import { findLatestCheckpoint, readTrainerState } from '../../src/train/checkpoint.js';
import { loadModel } from '../../src/model/model.js';
import { disposeParams, flattenParams } from '../../src/model/params.js';
import { LlmdbgError } from '../../src/errors.js';
import { toyConfig, toyOptions, toySource } from './toy.js';
import { assertClose } from '../helpers/close.js';
import { initParams } from '../../src/model/init.js';
import { batchGradients } from '../../src/train/step.js';
import { disposeTrainable, makeTrainable } from '../../src/train/trainable.js';

/** A copy of the array's own bytes (native arrays may be views into a larger, aligned buffer). */
const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).subarray().slice();

const root = mkdtempSync(join(tmpdir(), 'llmdbg-train-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);

before(async () => {
  await useTestBackend();
});

/** All final weights as one byte string per parameter. */
function bytes(r: TrainResult): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, t] of flattenParams(r.params)) out.set(k, bytesOf(t.dataSync() as Float32Array));
  return out;
}

let reference: Map<string, Buffer> | undefined;
let referenceLoss: number;

/** Weights of the uninterrupted toy run (computed once). */
async function uninterrupted(): Promise<Map<string, Buffer>> {
  if (!reference) {
    const r = await train({ ...toyOptions(), data: toySource() });
    reference = bytes(r);
    referenceLoss = r.finalLoss!;
    disposeParams(r.params);
  }
  return reference;
}

describe('train()', () => {
  it('learns the toy task, leaks nothing, and reports progress', async () => {
    const before = tf.memory().numTensors;
    const progress: TrainProgress[] = [];
    const r = await train({ ...toyOptions({ steps: 60 }), data: toySource(), onProgress: (p) => progress.push(p) });
    assert.equal(r.stopReason, 'done');
    assert.deepEqual(progress.map((p) => p.step), Array.from({ length: 15 }, (_, i) => 4 * (i + 1)));
    const first = progress[0]!.loss;
    const last = progress.at(-1)!.loss;
    assert.ok(first > Math.log(40) - 0.3, `starts near ln V (${first})`);
    assert.ok(last < first - 1, `loss falls by more than 1 nat: ${first} -> ${last}`);
    assert.ok(progress.every((p) => p.tokensPerSec > 0 && p.etaSec >= 0 && Number.isFinite(p.gradNorm)));
    assert.equal(progress.at(-1)!.etaSec, 0);
    assert.equal(r.info['method'], 'train-adamw');
    disposeParams(r.params);
    assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
  });

  it('is bit-for-bit deterministic; another init seed or data seed changes the weights', async () => {
    const ref = await uninterrupted();
    const b = await train({ ...toyOptions(), data: toySource() });
    const c = await train({ ...toyOptions({ init: { config: toyOptions().init!.config, seed: 12 } }), data: toySource() });
    const d = await train({ ...toyOptions(), data: toySource(6) });
    assert.deepEqual(bytes(b), ref);
    assert.notDeepEqual(bytes(c).get('wte'), ref.get('wte'));
    assert.notDeepEqual(bytes(d).get('layers.0.wQKV'), ref.get('layers.0.wQKV'));
    for (const r of [b, c, d]) disposeParams(r.params);
  });

  it('abort writes a checkpoint; resuming ends with exactly the uninterrupted weights', async () => {
    const dir = fresh();
    const ac = new AbortController();
    const r1 = await train({ ...toyOptions({ checkpointDir: dir, outDir: join(dir, 'final') }), data: toySource(), signal: ac.signal, onProgress: (p) => { if (p.step === 8) ac.abort(); } });
    assert.equal(r1.stopReason, 'aborted');
    assert.equal(r1.step, 8);
    assert.equal(r1.outDir, null);
    assert.ok(!existsSync(join(dir, 'final')), 'no final model when aborted');
    assert.equal(findLatestCheckpoint(dir), join(dir, 'step-00000008'));
    disposeParams(r1.params);
    const ref = await uninterrupted();
    const r2 = await train({ ...toyOptions({ checkpointDir: dir, resume: true, outDir: join(dir, 'final') }), data: toySource() });
    assert.equal(r2.resumedFrom, join(dir, 'step-00000008'));
    assert.equal(r2.stopReason, 'done');
    assert.deepEqual(bytes(r2), ref);
    assert.equal(r2.finalLoss, referenceLoss);
    assert.equal(r2.history.length, 6, 'history continues across the resume');
    // the final model folder loads and holds the same weights
    const m = loadModel(join(dir, 'final'));
    for (const [k, t] of flattenParams(m.params)) assert.deepEqual(bytesOf(t.dataSync() as Float32Array), ref.get(k));
    m.dispose();
    disposeParams(r2.params);
  });

  it('a SIGKILLed training process resumes to exactly the uninterrupted weights', async () => {
    const dir = fresh();
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./train-child.ts', import.meta.url)), dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('child made no checkpoint in 60 s')); }, 60_000);
      const poll = setInterval(() => {
        const latest = findLatestCheckpoint(dir);
        if (latest && readTrainerState(latest).step >= 6) {
          clearInterval(poll);
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', (code) => { if (code !== null) { clearInterval(poll); clearTimeout(timer); reject(new Error(`child exited with ${code}`)); } });
    });
    await new Promise((r) => child.once('close', r));
    const killedAt = readTrainerState(findLatestCheckpoint(dir)!).step;
    assert.ok(killedAt >= 6 && killedAt < 24, `killed after step ${killedAt}`);
    const r = await train({ ...toyOptions({ checkpointDir: dir, resume: true }), data: toySource() });
    assert.ok(r.resumedFrom !== null);
    assert.deepEqual(bytes(r), await uninterrupted());
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('.tmp-')), 'temp folders swept');
    disposeParams(r.params);
  });
});

describe('micro-batches', () => {
  it('summed micro-batch gradients equal the full-batch gradient; training with them stays close', async () => {
    const cfg = toyConfig();
    const p0 = initParams(cfg, 3);
    const tr = makeTrainable(cfg, p0);
    disposeParams(p0);
    const batch = toySource().next(4, 16);
    const full = batchGradients(cfg, tr, batch, 4);
    const micro = batchGradients(cfg, tr, batch, 1);
    assert.ok(Math.abs(full.loss.dataSync()[0]! - micro.loss.dataSync()[0]!) < 1e-5);
    for (const [k, g] of Object.entries(full.grads)) assertClose(k, micro.grads[k]!.dataSync(), g.dataSync(), { atol: 1e-6, rtol: 1e-4 });
    tf.dispose([full.loss, micro.loss, ...Object.values(full.grads), ...Object.values(micro.grads)]);
    disposeTrainable(tr);
    const a = await train({ ...toyOptions({ steps: 3, warmup: 1 }), data: toySource() });
    const b = await train({ ...toyOptions({ steps: 3, warmup: 1, microBatch: 2 }), data: toySource() });
    for (const [k, t] of flattenParams(a.params)) assertClose(k, flattenParams(b.params).get(k)!.dataSync(), t.dataSync(), { atol: 1e-5, rtol: 1e-4 });
    disposeParams(a.params);
    disposeParams(b.params);
  });
});

describe('checkpoints', () => {
  it('are Hugging Face folders with optimizer state and trainer state; only the newest two are kept', async () => {
    const dir = fresh();
    const r = await train({ ...toyOptions({ steps: 10, checkpointDir: dir, checkpointEvery: 3 }), data: toySource() });
    assert.deepEqual(readdirSync(dir).sort(), ['latest.json', 'step-00000009', 'step-00000010']);
    const ck = join(dir, 'step-00000009');
    assert.deepEqual(readdirSync(ck).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    const st = readTrainerState(ck);
    assert.equal(st.step, 9);
    assert.deepEqual(st.data, { ...(st.data as object) });
    assert.equal(st.recipe.steps, 10);
    const m = loadModel(ck);
    assert.equal(m.config.nLayers, 2);
    m.dispose();
    disposeParams(r.params);
  });

  it('resume refuses other options or data, a fresh run refuses a used folder; a torn latest.json and stale temp folders are tolerated', async () => {
    const dir = fresh();
    const r = await train({ ...toyOptions({ steps: 6, checkpointDir: dir, checkpointEvery: 2 }), data: toySource() });
    disposeParams(r.params);
    await assert.rejects(train({ ...toyOptions({ steps: 6, lr: 1e-3, checkpointDir: dir, resume: true }), data: toySource() }),
      (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_checkpoint' && /lr 0\.003 \(now 0\.001\)/.test(e.message));
    await assert.rejects(train({ ...toyOptions({ steps: 6, checkpointDir: dir, resume: true }), data: toySource(9) }),
      (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_checkpoint' && /trained on other data/.test(e.message));
    await assert.rejects(train({ ...toyOptions({ steps: 6, checkpointDir: dir }), data: toySource() }),
      (e: unknown) => e instanceof LlmdbgError && e.code === 'invalid_argument' && /already holds checkpoints/.test(e.message));
    const fresh6 = await train({ ...toyOptions({ steps: 6, checkpointDir: dir, overwrite: true, checkpointEvery: 2 }), data: toySource() });
    assert.equal(fresh6.resumedFrom, null, 'overwrite starts over');
    disposeParams(fresh6.params);
    writeFileSync(join(dir, 'latest.json'), '{"step": 6, "di');
    mkdirSync(join(dir, '.tmp-step-00000099-1-ab'));
    const again = await train({ ...toyOptions({ steps: 6, checkpointDir: dir, resume: true }), data: toySource() });
    assert.equal(again.resumedFrom, join(dir, 'step-00000006'));
    assert.equal(again.step, 6);
    assert.ok(!existsSync(join(dir, '.tmp-step-00000099-1-ab')));
    disposeParams(again.params);
    assert.ok(JSON.parse(readFileSync(join(dir, 'step-00000006', 'trainer_state.json'), 'utf8')).history.length > 0);
  });
});
