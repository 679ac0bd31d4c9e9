/**
 * `llmdbg bench`: prefill time, decode speed, saliency (forward + backward) time and peak memory
 * for one model on this machine, with a deterministic random prompt.
 */
import * as tf from '@tensorflow/tfjs-core';
import { int, parse } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { note, printJson, printLine } from '../output.js';
import { generate } from '../../model/generate.js';
import { Rng } from '../../engine/rng.js';
import type { Model } from '../../model/model.js';
import type { Command } from './types.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Gradient of the last position's top log-probability with respect to the token embeddings. */
export function saliencyOnce(model: Model, ids: number[]): void {
  tf.tidy(() => {
    const idsT = tf.tensor2d(ids, [1, ids.length], 'int32');
    const embeds = tf.gather(model.params.wte, idsT) as unknown as tf.Tensor3D;
    const target = tf.tidy(() => {
      const l = model.forward({ embeds }, { logits: 'last' }).logits!;
      return tf.argMax(tf.reshape(l, [-1])).dataSync()[0]!;
    });
    const g = tf.grad((e: tf.Tensor) => {
      const l = model.forward({ embeds: e as tf.Tensor3D }, { logits: 'last' }).logits!;
      return tf.reshape(tf.slice(tf.logSoftmax(tf.reshape(l, [1, -1])), [0, target], [1, 1]), []);
    })(embeds);
    g.dataSync();
  });
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'prefill, decode, saliency time and peak memory on this machine',
  usage: `llmdbg bench [--model DIR] [--prompt-len N] [--decode M] [--repeats R] [--json]
  Defaults: 64 prompt tokens (random ids, seed 0), 32 decode steps, 3 repeats (median).`,
  async run(argv) {
    const { values: v } = parse(argv, { 'prompt-len': { type: 'string' }, decode: { type: 'string' }, repeats: { type: 'string' } }, 'bench');
    const s = await openSession(v);
    const T = int(v, 'prompt-len', 64, 1, s.model.config.nCtx);
    const M = int(v, 'decode', 32, 0, s.model.config.nCtx - T);
    const R = int(v, 'repeats', 3, 1, 100);
    const rng = new Rng(0);
    const ids = Array.from({ length: T }, () => rng.int(s.model.config.vocabSize));
    const log = (m: string) => { if (!v['json']) note(m); };

    // warm-up compiles kernels and lets the backend pack weights
    await s.model.logits(ids.slice(0, Math.min(4, T)));
    const prefill: number[] = [];
    for (let r = 0; r < R; r++) {
      const t0 = performance.now();
      tf.tidy(() => { s.model.forward({ ids: tf.tensor2d(ids, [1, T], 'int32') }, { logits: 'last' }).logits!.dataSync(); });
      prefill.push(performance.now() - t0);
    }
    log(`prefill ${T} tokens: ${median(prefill).toFixed(1)} ms`);

    let decodeTokensPerSec: number | null = null;
    if (M > 0) {
      const t0 = performance.now();
      let firstStep = 0;
      const res = await generate(s.model, ids, { maxNewTokens: M, stopAtEos: false }, (st) => { if (st.step === 0) firstStep = performance.now(); });
      const t1 = performance.now();
      decodeTokensPerSec = res.generated.length > 1 ? ((res.generated.length - 1) / (t1 - firstStep)) * 1000 : null;
      void t0;
      log(`decode: ${decodeTokensPerSec?.toFixed(2)} tokens/s`);
    }

    // peak memory of loading, prefill and decode, before the backward pass allocates its own
    const inferencePeakRssMB = process.resourceUsage().maxRSS / 1024;
    const sal: number[] = [];
    for (let r = 0; r < R; r++) {
      const t0 = performance.now();
      saliencyOnce(s.model, ids);
      sal.push(performance.now() - t0);
    }
    log(`saliency (forward + backward): ${median(sal).toFixed(1)} ms`);

    const peakRssMB = process.resourceUsage().maxRSS / 1024;
    const weightMB = (s.model.nParams * 4) / 2 ** 20;
    const result = {
      prefillMs: median(prefill), decodeTokensPerSec, saliencyMs: median(sal), peakRssMB, inferencePeakRssMB, weightMB,
      promptLen: T, decode: M, repeats: R, backend: s.backend.name,
      info: runInfo(s, { loadMs: Math.round(s.loadMs), parameters: s.model.nParams }),
    };
    if (v['json']) return printJson(result);
    printLine(`prefill ${T} tokens   ${result.prefillMs.toFixed(1)} ms`);
    printLine(`decode               ${decodeTokensPerSec === null ? '-' : decodeTokensPerSec.toFixed(2)} tokens/s`);
    printLine(`saliency             ${result.saliencyMs.toFixed(1)} ms`);
    printLine(`peak RSS             ${inferencePeakRssMB.toFixed(0)} MB after decode, ${peakRssMB.toFixed(0)} MB after saliency (float32 weights ${weightMB.toFixed(0)} MB)`);
    printLine(`backend              ${s.backend.name} (${s.backend.threads} thread${s.backend.threads === 1 ? '' : 's'})`);
  },
};
