/**
 * Public types of a debugger session: options, where a run is paused, edits, results, stops.
 * Plain data, JSON-serialisable. Non-goals: behaviour (session.ts).
 */
import type { Site } from '../model/hooks.js';
import type { DimName } from '../engine/dims.js';
import type { Candidate } from '../model/sampling.js';
import type { GenerateOptions, GenerationStep, resolveSampling } from '../model/generate.js';
import type { BreakHit, BreakpointSpec } from './breakpoints.js';

export type { BreakHit } from './breakpoints.js';
import type { WatchSpec } from './watch.js';
import type { EditOp } from './slice.js';

export interface DebugOptions extends Pick<GenerateOptions, 'temperature' | 'topK' | 'topP' | 'seed' | 'stopAtEos'> {
  /** 0 (default): one forward pass over the prompt; N: generate N tokens (N passes). */
  maxNewTokens?: number;
  breakpoints?: readonly BreakpointSpec[];
  watches?: readonly WatchSpec[];
  topCandidates?: number;
}


export interface PauseInfo {
  /** `interrupt`: `interrupt()` was called (Ctrl-C in the REPL) while the run was advancing. */
  reason: 'breakpoint' | 'step' | 'interrupt';
  breakpoints: BreakHit[];
  hook: string;
  site: Site;
  layer: number | null;
  dims: readonly DimName[];
  shape: number[];
  /** Generation step (0 = prefill over the prompt). */
  step: number;
  /** Index of this hook point within its pass, in execution order. */
  hookIndex: number;
  /** Sequence positions held by the tensor, first and last. */
  positions: [number, number];
  /** Token ids fed to this pass. */
  tokens: number[];
  edited: boolean;
}

export interface EditRecord {
  step: number;
  hook: string;
  slice: string;
  op: EditOp;
  /** Shape of the edited region. */
  shape: number[];
}

export interface DebugResult {
  ids: number[];
  generated: number[];
  steps: GenerationStep[];
  stopReason: 'forward' | 'max_new_tokens' | 'eos';
  /** Top candidates after the last pass. */
  lastTop: Candidate[];
  edits: EditRecord[];
  info: { method: 'debug'; model: { dir: string; arch: string; fingerprint: string }; maxNewTokens: number; sampling: ReturnType<typeof resolveSampling>; seed: number };
}

export type Stop = { status: 'paused'; pause: PauseInfo } | { status: 'finished'; result: DebugResult } | { status: 'aborted' };
export type RunStatus = 'ready' | 'running' | 'paused' | 'finished' | 'aborted';
