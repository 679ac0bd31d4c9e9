/**
 * A tiny, learnable training setup shared by the trainer tests and their child process:
 * arithmetic progressions mod V (the next token follows from the previous two), a 2-layer GQA
 * Llama, and a recipe short enough for tests. Non-goals: realism.
 */
import { Rng } from '../../src/engine/rng.js';
import { newModelConfig } from '../../src/model/init.js';
import { ExampleSource, type TokenBatch, type TokenBatchSource, type TokenExample } from '../../src/train/data.js';
import type { TrainOptions } from '../../src/train/trainer.js';

export const TOY_V = 40;

export function toyExamples(n = 64, seed = 3): TokenExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const start = rng.int(TOY_V);
    const d = 1 + rng.int(3);
    const len = 6 + rng.int(7);
    return { ids: Array.from({ length: len }, (_, i) => (start + i * d) % TOY_V) };
  });
}

export function toyConfig(arch: 'llama' | 'gpt2' = 'llama') {
  return newModelConfig({ arch, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: arch === 'llama' ? 2 : undefined, vocabSize: TOY_V, nCtx: 32 });
}

/** Everything but the data source. */
export function toyOptions(extra: Partial<TrainOptions> = {}): Omit<TrainOptions, 'data'> {
  return { init: { config: toyConfig(), seed: 11 }, steps: 24, batchSize: 4, seqLen: 16, lr: 3e-3, warmup: 4, minLr: 3e-4, clip: 1, logEvery: 4, ...extra };
}

export function toySource(seed = 5): ExampleSource {
  return new ExampleSource(toyExamples(), { seed });
}

/** Wraps a source and sleeps `ms` per batch (to give a killer time to act); numerics unchanged. */
export class SlowSource implements TokenBatchSource {
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  constructor(private readonly inner: TokenBatchSource, private readonly ms: number) {}
  next(b: number, t: number): TokenBatch {
    Atomics.wait(this.cell, 0, 0, this.ms);
    return this.inner.next(b, t);
  }
  getState(): unknown {
    return this.inner.getState();
  }
  setState(s: unknown): void {
    this.inner.setState(s);
  }
  describe(): Record<string, unknown> {
    return this.inner.describe();
  }
}
