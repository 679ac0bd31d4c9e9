/**
 * The forward-pass debugger: an async session that drives `forwardSteps` one hook point at a time
 * through a prefill pass and one pass per generated token (KV cache, `chooseToken`), pausing at
 * breakpoints or after a step, layer or token. While paused the tensor at hand can be read, measured
 * and edited; edits replace the activation for the rest of the run. Tensors are owned per pass
 * (scope.ts) and all freed at the end or on abort. Inspection helpers live in inspect.ts.
 * Non-goals: batches (one sequence), reverse stepping, breakpoints on weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LlmdbgError } from '../errors.js';
import { Rng } from '../engine/rng.js';
import type { Model } from '../model/model.js';
import { forwardSteps, type ForwardOutput, type KVCache } from '../model/forward.js';
import type { HookEvent } from '../model/visit.js';
import { SITES, type Site } from '../model/hooks.js';
import type { DimName } from '../engine/dims.js';
import { chooseToken, type Candidate } from '../model/sampling.js';
import { resolveSampling, type GenerationStep } from '../model/generate.js';
import { evaluateBreakpoints, makeBreakpoint, type Breakpoint, type BreakpointSpec, type RunShape } from './breakpoints.js';
import type { BreakHit, DebugOptions, DebugResult, EditRecord, PauseInfo, RunStatus, Stop } from './session-types.js';
import { makeWatch, watchStats, type Watch, type WatchRecord, type WatchSpec } from './watch.js';
import { collectTensors, disposeOwned } from './scope.js';
import { applyEdit, parseSlice, selShape, type EditOp, type SliceInput } from './slice.js';
import { sliceOf, statsOf, topActivations, type HostView, type TopEntry } from './inspect.js';
import type { HealthMode, TensorHealth } from '../methods/health/stats.js';

export type { BreakHit, DebugOptions, DebugResult, EditRecord, PauseInfo, RunStatus, Stop } from './session-types.js';

interface Pass {
  step: number;
  input: number[];
  gen: Generator<HookEvent, ForwardOutput, tf.Tensor | void>;
  owned: tf.Tensor[];
  hookIndex: number;
  event: HookEvent | null;
  replacement: tf.Tensor | null;
  host: Float32Array | null;
}

interface Moment {
  step: number;
  layer: number | null;
}

export class DebugRun {
  private status_: RunStatus = 'ready';
  private pass: Pass | null = null;
  private kv: KVCache | null = null;
  private readonly ids: number[];
  private readonly generated: number[] = [];
  private readonly genSteps: GenerationStep[] = [];
  private step_ = 0;
  private complete = false;
  private stopReason: DebugResult['stopReason'] = 'forward';
  private lastTop: Candidate[] = [];
  private readonly bps = new Map<number, Breakpoint>();
  private nextBp = 1;
  private readonly watchList: Watch[] = [];
  private readonly records: WatchRecord[] = [];
  private readonly editLog: EditRecord[] = [];
  private pause_: PauseInfo | null = null;
  private busy = false;
  private interrupted = false;
  private readonly maxNew: number;
  private readonly sampling: ReturnType<typeof resolveSampling>;
  private readonly rng: Rng | null;
  private readonly eos: Set<number>;
  readonly shape: RunShape;

  constructor(readonly model: Model, promptIds: readonly number[], private readonly opts: DebugOptions = {}) {
    const n = opts.maxNewTokens ?? 0;
    if (!Number.isInteger(n) || n < 0) throw new LlmdbgError('invalid_argument', `maxNewTokens ${n} must be an integer >= 0`, { hint: '0 runs one forward pass over the prompt' });
    this.maxNew = n;
    model.checkIds(promptIds, n);
    this.ids = [...promptIds];
    this.sampling = resolveSampling(opts);
    this.rng = this.sampling.temperature > 0 ? new Rng(opts.seed ?? 0) : null;
    this.eos = new Set(opts.stopAtEos === false ? [] : model.config.eosTokenIds);
    this.shape = { promptLength: promptIds.length, passes: Math.max(1, n) };
    for (const b of opts.breakpoints ?? []) this.addBreakpoint(b);
    for (const w of opts.watches ?? []) this.addWatch(w);
  }

  get status(): RunStatus {
    return this.status_;
  }

  /** Where the run is paused (null unless paused). */
  get pause(): PauseInfo | null {
    return this.status_ === 'paused' ? this.pause_ : null;
  }

  /** Generation step of the pass in progress (or the next one). */
  get step(): number {
    return this.step_;
  }

  // ---- breakpoints and watches ------------------------------------------------------------------

  addBreakpoint(spec: BreakpointSpec, id?: number): Breakpoint {
    const bid = id ?? this.nextBp;
    const b = makeBreakpoint(bid, spec, this.model.config, this.shape);
    this.bps.set(bid, b);
    this.nextBp = Math.max(this.nextBp, bid + 1);
    return b;
  }

  /** Deletes one breakpoint, or all when `id` is undefined; returns the ids removed. */
  deleteBreakpoint(id?: number): number[] {
    if (id === undefined) {
      const all = [...this.bps.keys()];
      this.bps.clear();
      return all;
    }
    if (!this.bps.delete(id)) throw new LlmdbgError('invalid_argument', `no breakpoint ${id}; the breakpoints are ${[...this.bps.keys()].join(', ') || 'none'}`, { hint: '`info breakpoints` lists them' });
    return [id];
  }

  breakpoints(): Breakpoint[] {
    return [...this.bps.values()];
  }

  addWatch(spec: WatchSpec): Watch {
    const w = makeWatch(this.watchList.length + 1, spec, this.model.config);
    this.watchList.push(w);
    return w;
  }

  watches(): Watch[] {
    return [...this.watchList];
  }

  watchRecords(): WatchRecord[] {
    return [...this.records];
  }

  edits(): EditRecord[] {
    return [...this.editLog];
  }

  // ---- running ----------------------------------------------------------------------------------

  /** Runs to the next breakpoint or the end. */
  continue(): Promise<Stop> {
    return this.advance(() => false);
  }

  /** Pauses at the next hook point (or the n-th next), earlier at a breakpoint. */
  stepHook(n = 1): Promise<Stop> {
    if (!Number.isInteger(n) || n < 1) throw new LlmdbgError('invalid_argument', `step count ${n} must be an integer >= 1`);
    let left = n;
    return this.advance(() => --left === 0);
  }

  /** Pauses at the first hook point of the next layer (`layer`) or the next generation step (`token`). */
  next(unit: 'layer' | 'token' = 'layer'): Promise<Stop> {
    const here: Moment | null = this.pause_ && this.status_ === 'paused' ? { step: this.pause_.step, layer: this.pause_.layer } : null;
    return this.advance((m) => here === null || m.step !== here.step || (unit === 'layer' && m.layer !== here.layer));
  }

  /** Stops the run and frees every tensor it holds. */
  abort(): Stop {
    if (this.busy) throw new LlmdbgError('invalid_argument', 'the run is advancing; abort after the current command returns');
    this.teardown();
    if (this.status_ !== 'finished') this.status_ = 'aborted';
    return this.status_ === 'finished' ? { status: 'finished', result: this.result() } : { status: 'aborted' };
  }

  /** Asks an advancing run to pause at its next hook point (safe to call from a signal handler). */
  interrupt(): void {
    if (this.busy) this.interrupted = true;
  }

  result(): DebugResult {
    const m = this.model;
    return {
      ids: [...this.ids], generated: [...this.generated], steps: [...this.genSteps], stopReason: this.stopReason, lastTop: this.lastTop, edits: this.edits(),
      info: { method: 'debug', model: { dir: m.source.dir, arch: m.config.arch, fingerprint: m.source.fingerprint }, maxNewTokens: this.maxNew, sampling: this.sampling, seed: this.opts.seed ?? 0 },
    };
  }

  private async advance(until: (m: Moment) => boolean): Promise<Stop> {
    if (this.busy) throw new LlmdbgError('invalid_argument', 'the run is already advancing; await the previous command');
    if (this.status_ === 'finished' || this.status_ === 'aborted') {
      throw new LlmdbgError('not_paused', `the run has ${this.status_ === 'finished' ? 'finished' : 'been aborted'}`, { hint: 'start a new run (`run` in the REPL)' });
    }
    this.busy = true;
    this.interrupted = false;
    this.status_ = 'running';
    let sinceYield = 0;
    try {
      for (;;) {
        if (!this.pass) {
          if (this.complete) return this.finish();
          this.beginPass();
        }
        const pass = this.pass!;
        const resume = this.leaveEvent(pass);
        const r = collectTensors(() => pass.gen.next(resume), pass.owned);
        if (r.done) {
          this.endPass(pass, r.value);
          await Promise.resolve(); // let the event loop breathe between passes
          continue;
        }
        const ev = r.value;
        pass.event = ev;
        pass.hookIndex++;
        pass.host = null;
        const hits = this.checkBreakpoints(pass, ev);
        if (hits.length > 0 || until({ step: pass.step, layer: ev.layer }) || this.interrupted) return this.pauseAt(pass, ev, hits);
        if (++sinceYield >= 32) {
          sinceYield = 0;
          await new Promise((r) => setImmediate(r)); // let signals (Ctrl-C -> interrupt()) and I/O in
        }
      }
    } catch (e) {
      this.teardown();
      this.status_ = 'aborted';
      throw e;
    } finally {
      this.busy = false;
    }
  }

  private beginPass(): void {
    const input = this.step_ === 0 ? [...this.ids] : [this.ids[this.ids.length - 1]!];
    const owned: tf.Tensor[] = [];
    const ids = collectTensors(() => tf.tensor2d(input, [1, input.length], 'int32'), owned);
    const gen = forwardSteps(this.model.config, this.model.params, { ids, ...(this.kv ? { past: this.kv } : {}), logits: 'last' });
    this.pass = { step: this.step_, input, gen, owned, hookIndex: -1, event: null, replacement: null, host: null };
  }

  /** Records watches for the event being left and returns its replacement, if edited. */
  private leaveEvent(pass: Pass): tf.Tensor | undefined {
    const ev = pass.event;
    if (!ev) return undefined;
    const names = this.watchList.filter((w) => w.names.has(ev.name));
    if (names.length > 0) {
      const t = pass.replacement ?? ev.tensor;
      const data = this.hostOf(pass);
      const posAxis = SITES[ev.site].dims.indexOf('pos');
      for (const w of names) {
        const s = watchStats(w, data, t.shape, posAxis, ev.posOffset, ev.site === 'attn.hook_attn_scores');
        this.records.push({ watch: w.id, hook: ev.name, layer: ev.layer, step: pass.step, ...s });
      }
    }
    const r = pass.replacement;
    pass.event = null;
    pass.replacement = null;
    pass.host = null;
    if (r) pass.owned.push(r);
    return r ?? undefined;
  }

  private checkBreakpoints(pass: Pass, ev: HookEvent): BreakHit[] {
    return evaluateBreakpoints(this.bps.values(), { name: ev.name, site: ev.site, shape: ev.tensor.shape, posOffset: ev.posOffset, step: pass.step }, () => this.hostOf(pass));
  }

  private pauseAt(pass: Pass, ev: HookEvent, hits: BreakHit[]): Stop {
    const posAxis = SITES[ev.site].dims.indexOf('pos');
    const rows = ev.tensor.shape[posAxis]!;
    this.pause_ = {
      reason: hits.length > 0 ? 'breakpoint' : this.interrupted ? 'interrupt' : 'step', breakpoints: hits, hook: ev.name, site: ev.site, layer: ev.layer,
      dims: SITES[ev.site].dims, shape: [...ev.tensor.shape], step: pass.step, hookIndex: pass.hookIndex,
      positions: [ev.posOffset, ev.posOffset + rows - 1], tokens: [...pass.input], edited: false,
    };
    this.status_ = 'paused';
    return { status: 'paused', pause: { ...this.pause_ } };
  }

  private endPass(pass: Pass, out: ForwardOutput): void {
    const row = Float32Array.from(out.logits!.dataSync()); // [V], the last position
    const keep = new Set<tf.Tensor>(out.kv.layers.flatMap((l) => [l.k, l.v]));
    disposeOwned(pass.owned, keep);
    if (this.kv) for (const l of this.kv.layers) for (const t of [l.k, l.v]) if (!keep.has(t)) t.dispose();
    this.kv = out.kv;
    this.pass = null;
    const nTop = this.opts.topCandidates ?? 10;
    if (this.maxNew === 0) {
      this.lastTop = chooseToken(row, { temperature: 0, topK: 0, topP: 1 }, null, nTop).top;
      this.complete = true;
      this.stopReason = 'forward';
      return;
    }
    const rngState = this.rng ? this.rng.getState() : null;
    const c = chooseToken(row, this.sampling, this.rng, nTop);
    this.genSteps.push({ step: pass.step, id: c.id, prob: c.prob, logprob: c.logprob, sampleProb: c.sampleProb, top: c.top, rngState });
    this.lastTop = c.top;
    this.ids.push(c.id);
    this.generated.push(c.id);
    this.step_++;
    if (this.eos.has(c.id)) {
      this.complete = true;
      this.stopReason = 'eos';
    } else if (this.generated.length >= this.maxNew) {
      this.complete = true;
      this.stopReason = 'max_new_tokens';
    }
  }

  private finish(): Stop {
    this.teardown();
    this.status_ = 'finished';
    this.pause_ = null;
    return { status: 'finished', result: this.result() };
  }

  private teardown(): void {
    const pass = this.pass;
    if (pass) {
      try {
        collectTensors(() => pass.gen.return(undefined as unknown as ForwardOutput), pass.owned);
      } catch {
        // a generator that fails while closing holds nothing more than `owned`
      }
      pass.replacement?.dispose();
      disposeOwned(pass.owned);
      this.pass = null;
    }
    if (this.kv) for (const l of this.kv.layers) for (const t of [l.k, l.v]) if (!t.isDisposed) t.dispose();
    this.kv = null;
    this.pause_ = null;
  }

  // ---- the tensor at hand -----------------------------------------------------------------------

  private paused(): { pass: Pass; ev: HookEvent; tensor: tf.Tensor } {
    const pass = this.pass;
    if (this.status_ !== 'paused' || !pass?.event || this.busy) {
      throw new LlmdbgError('not_paused', `no tensor at hand: the run is ${this.busy ? 'advancing' : this.status_}`, { hint: this.status_ === 'ready' ? 'start it with continue/step (`run` in the REPL)' : 'start a new run' });
    }
    return { pass, ev: pass.event, tensor: pass.replacement ?? pass.event.tensor };
  }

  private hostOf(pass: Pass): Float32Array {
    if (!pass.host) pass.host = (pass.replacement ?? pass.event!.tensor).dataSync() as Float32Array;
    return pass.host;
  }

  /** The current tensor (after edits) as host data, with its dims. */
  current(): { shape: number[]; dims: readonly DimName[]; data: Float32Array; posOffset: number; site: Site } {
    const { pass, ev, tensor } = this.paused();
    return { shape: [...tensor.shape], dims: SITES[ev.site].dims, data: Float32Array.from(this.hostOf(pass)), posOffset: ev.posOffset, site: ev.site };
  }

  /** The current tensor as a view for inspect.ts (masked scores flagged). */
  view(): HostView {
    const c = this.current();
    return { ...c, masked: c.site === 'attn.hook_attn_scores' };
  }

  /** Statistics of (a slice of) the paused tensor. */
  stats(slice?: SliceInput, mode: HealthMode = 'full'): TensorHealth {
    return statsOf(this.view(), slice, mode);
  }

  /** Values of a slice of the paused tensor (single axes dropped from the shape). */
  slice(slice?: SliceInput): { shape: number[]; data: Float32Array } {
    return sliceOf(this.view(), slice);
  }

  /** The k largest activations (by |x| with `abs`) of the paused tensor or a slice of it. */
  top(k = 10, opts: { slice?: SliceInput; abs?: boolean } = {}): TopEntry[] {
    return topActivations(this.view(), k, opts);
  }

  /** Applies an edit to a slice of the paused tensor; it replaces the activation when the run resumes. */
  edit(slice: SliceInput | undefined, op: EditOp): EditRecord {
    const { pass, ev, tensor } = this.paused();
    const okOp = op.kind === 'scale' ? typeof op.factor === 'number' : Array.isArray(op.values) && op.values.every((v) => typeof v === 'number');
    if (!okOp) throw new LlmdbgError('invalid_argument', `${op.kind}: the ${op.kind === 'scale' ? 'factor' : 'values'} must be numbers`);
    const sel = parseSlice(slice, tensor.shape, SITES[ev.site].dims);
    const data = applyEdit(this.hostOf(pass), tensor.shape, sel, op); // validates sizes before any change
    const next = tf.tensor(data, tensor.shape, 'float32');
    pass.replacement?.dispose();
    pass.replacement = next;
    pass.host = data;
    if (this.pause_) this.pause_.edited = true;
    const rec: EditRecord = { step: pass.step, hook: ev.name, slice: typeof slice === 'string' ? slice : JSON.stringify(slice ?? []), op, shape: selShape(sel) };
    this.editLog.push(rec);
    return rec;
  }

  set(slice: SliceInput | undefined, value: number | readonly number[]): EditRecord {
    return this.edit(slice, { kind: 'set', values: typeof value === 'number' ? [value] : [...value] });
  }

  zero(slice?: SliceInput): EditRecord {
    return this.edit(slice, { kind: 'set', values: [0] });
  }

  scale(slice: SliceInput | undefined, factor: number): EditRecord {
    return this.edit(slice, { kind: 'scale', factor });
  }
}

/** Creates a debugger session; nothing runs until `continue`, `stepHook` or `next` is awaited. */
export function start(model: Model, ids: readonly number[], opts: DebugOptions = {}): DebugRun {
  return new DebugRun(model, ids, opts);
}
