/**
 * Token batches for the trainer and the sources that make them. A source is deterministic in its
 * seed and resumable: `getState()` is plain JSON and `setState` continues the exact same stream,
 * which is what makes a resumed run bit-identical. `ExampleSource` shuffles examples per epoch and
 * either packs them into one stream cut into rows, or pads one example per row.
 * Non-goals: tokenizing (see dataset-file.ts), streaming corpora larger than memory.
 */
// LIMITATION: packed rows let attention cross example boundaries (no per-example attention mask).
import { LlmdbgError } from '../errors.js';
import { Rng } from '../engine/rng.js';

/** One batch, row-major [B, T]: inputs, next-token targets and the loss mask of each target. */
export interface TokenBatch {
  batchSize: number;
  seqLen: number;
  ids: Int32Array;
  targets: Int32Array;
  mask: Float32Array;
  /** Sum of the mask: the number of targets, or their total weight when the mask holds weights. */
  count: number;
}

export interface TokenBatchSource {
  next(batchSize: number, seqLen: number): TokenBatch;
  /** JSON-serialisable position in the stream. */
  getState(): unknown;
  setState(state: unknown): void;
  /** Provenance for results (kind, sizes, seed). */
  describe(): Record<string, unknown>;
}

/** A token sequence and which of its tokens are trained as targets (1) or not (0). */
export interface TokenExample {
  ids: readonly number[];
  /**
   * Per token; token i is a target when lossMask[i] > 0. Default: all but the first token. Values
   * other than 0 and 1 weight the token in the loss, a weighted mean over the batch (e.g. 4 makes
   * an answer token count as four ordinary ones).
   */
  lossMask?: readonly number[];
}

export interface ExampleSourceOptions {
  seed: number;
  /** 'pack': examples concatenated and cut into rows (no padding); 'pad': one example per row. */
  mode?: 'pack' | 'pad';
  /** Id written into padded positions (their mask is 0); default 0. */
  padId?: number;
}

interface Cursor {
  epoch: number;
  index: number;
  offset: number;
}

function isCursor(s: unknown): s is Cursor {
  const c = s as Cursor;
  return typeof c === 'object' && c !== null && [c.epoch, c.index, c.offset].every((x) => Number.isSafeInteger(x) && x >= 0);
}

/** Examples in a seeded per-epoch order; see `ExampleSourceOptions.mode`. */
export class ExampleSource implements TokenBatchSource {
  private readonly examples: { ids: Int32Array; mask: Float32Array }[];
  private readonly mode: 'pack' | 'pad';
  private readonly padId: number;
  private cur: Cursor = { epoch: 0, index: 0, offset: 0 };
  private orderEpoch = -1;
  private order: number[] = [];
  private readonly fingerprint: string;

  constructor(examples: readonly TokenExample[], private readonly opts: ExampleSourceOptions) {
    this.mode = opts.mode ?? 'pack';
    this.padId = opts.padId ?? 0;
    this.examples = examples.map((e, i) => {
      if (e.ids.length < 2) throw new LlmdbgError('invalid_dataset', `example ${i} has ${e.ids.length} token(s); at least 2 are needed to train on`, { hint: 'drop empty examples' });
      const mask = new Float32Array(e.ids.length);
      if (e.lossMask) {
        if (e.lossMask.length !== e.ids.length) throw new LlmdbgError('invalid_dataset', `example ${i}: lossMask has ${e.lossMask.length} entries for ${e.ids.length} tokens`);
        for (let j = 1; j < mask.length; j++) {
          const w = e.lossMask[j]!;
          if (!Number.isFinite(w) || w < 0) throw new LlmdbgError('invalid_dataset', `example ${i}: lossMask[${j}] = ${w} must be a finite number >= 0`, { hint: 'use 0 (not trained), 1 (trained) or a positive weight' });
          mask[j] = w;
        }
      } else mask.fill(1, 1);
      return { ids: Int32Array.from(e.ids), mask };
    });
    if (this.examples.length === 0) throw new LlmdbgError('invalid_dataset', 'no training examples', { hint: 'the dataset is empty after removing bad lines' });
    // FNV-1a over lengths, ids and masks: identifies the dataset in checkpoints.
    let h = 0x811c9dc5;
    const mix = (x: number) => (h = Math.imul(h ^ (x >>> 0), 0x01000193) >>> 0);
    for (const e of this.examples) {
      mix(e.ids.length);
      for (let j = 0; j < e.ids.length; j++) {
        const w = e.mask[j]!;
        mix(e.ids[j]! * 2 + (w > 0 ? 1 : 0));
        if (w !== 0 && w !== 1) mix(Math.round(w * 1e6)); // weights change the fingerprint; 0/1 masks keep the old one
      }
    }
    this.fingerprint = h.toString(16).padStart(8, '0');
    if (this.examples.every((e) => e.mask.every((x) => x === 0))) throw new LlmdbgError('invalid_dataset', 'no example has a token to train on (every loss mask is 0)');
  }

  private orderFor(epoch: number): number[] {
    if (epoch !== this.orderEpoch) {
      this.order = new Rng(`${this.opts.seed}/epoch/${epoch}`).shuffle([...this.examples.keys()]);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private example(c: Cursor): { ids: Int32Array; mask: Float32Array } {
    return this.examples[this.orderFor(c.epoch)[c.index]!]!;
  }

  private advance(c: Cursor): Cursor {
    return c.index + 1 < this.examples.length ? { epoch: c.epoch, index: c.index + 1, offset: 0 } : { epoch: c.epoch + 1, index: 0, offset: 0 };
  }

  next(batchSize: number, seqLen: number): TokenBatch {
    const n = batchSize * seqLen;
    const b: TokenBatch = { batchSize, seqLen, ids: new Int32Array(n), targets: new Int32Array(n), mask: new Float32Array(n), count: 0 };
    for (let r = 0; r < batchSize; r++) (this.mode === 'pack' ? this.packRow : this.padRow).call(this, b, r * seqLen, seqLen);
    for (let i = 0; i < n; i++) b.count += b.mask[i]!;
    return b;
  }

  /** Reads seqLen + 1 stream tokens starting at the cursor; the cursor moves by seqLen. */
  private packRow(b: TokenBatch, at: number, T: number): void {
    let c = this.cur;
    let start: Cursor | null = null;
    for (let i = 0; i <= T; i++) {
      let ex = this.example(c);
      while (c.offset >= ex.ids.length) {
        c = this.advance(c);
        ex = this.example(c);
      }
      if (i < T) b.ids[at + i] = ex.ids[c.offset]!;
      if (i > 0) {
        b.targets[at + i - 1] = ex.ids[c.offset]!;
        b.mask[at + i - 1] = ex.mask[c.offset]!;
      }
      if (i === T - 1) start = { ...c, offset: c.offset + 1 };
      c = { ...c, offset: c.offset + 1 };
    }
    this.cur = start!;
  }

  /** One example per row, truncated to seqLen + 1 tokens, padded with padId (mask 0). */
  private padRow(b: TokenBatch, at: number, T: number): void {
    const ex = this.example(this.cur);
    const n = Math.min(ex.ids.length, T + 1);
    b.ids.fill(this.padId, at, at + T);
    b.targets.fill(this.padId, at, at + T);
    for (let i = 0; i < n - 1; i++) {
      b.ids[at + i] = ex.ids[i]!;
      b.targets[at + i] = ex.ids[i + 1]!;
      b.mask[at + i] = ex.mask[i + 1]!;
    }
    if (n >= 1 && n - 1 < T) b.ids[at + n - 1] = ex.ids[n - 1]!;
    this.cur = this.advance(this.cur);
  }

  getState(): Cursor {
    return { ...this.cur };
  }

  setState(state: unknown): void {
    if (!isCursor(state) || state.index >= this.examples.length) {
      throw new LlmdbgError('invalid_checkpoint', `data position ${JSON.stringify(state)} does not fit a dataset of ${this.examples.length} examples`, { hint: 'resume with the same dataset the checkpoint was trained on' });
    }
    this.cur = { ...state };
  }

  describe(): Record<string, unknown> {
    let tokens = 0;
    let trained = 0;
    for (const e of this.examples) {
      tokens += e.ids.length;
      for (const x of e.mask) trained += x;
    }
    return { kind: 'examples', mode: this.mode, examples: this.examples.length, tokens, targetTokens: trained, seed: this.opts.seed, fingerprint: this.fingerprint };
  }
}

/** The same batch every step (optimizer parity tests, overfitting checks). */
export class FixedBatchSource implements TokenBatchSource {
  private calls = 0;
  constructor(private readonly batch: TokenBatch) {}
  next(batchSize: number, seqLen: number): TokenBatch {
    if (batchSize !== this.batch.batchSize || seqLen !== this.batch.seqLen) {
      throw new LlmdbgError('invalid_argument', `fixed batch is [${this.batch.batchSize}, ${this.batch.seqLen}] but [${batchSize}, ${seqLen}] was requested`);
    }
    this.calls++;
    return this.batch;
  }
  getState(): { calls: number } {
    return { calls: this.calls };
  }
  setState(state: unknown): void {
    this.calls = (state as { calls?: number })?.calls ?? 0;
  }
  describe(): Record<string, unknown> {
    return { kind: 'fixed', batchSize: this.batch.batchSize, seqLen: this.batch.seqLen, targetTokens: this.batch.count };
  }
}

/** A batch from explicit rows of ids, targets and mask (numbers), e.g. a fixture. */
export function batchFromRows(ids: number[][], targets: number[][], mask: number[][]): TokenBatch {
  const B = ids.length;
  const T = ids[0]?.length ?? 0;
  const b: TokenBatch = { batchSize: B, seqLen: T, ids: Int32Array.from(ids.flat()), targets: Int32Array.from(targets.flat()), mask: Float32Array.from(mask.flat()), count: 0 };
  for (const x of b.mask) b.count += x;
  return b;
}
