/**
 * Watches: a hook's statistics recorded at every generation step, to see how they evolve.
 * By default only the newest position is measured (the last prompt position at step 0, the new
 * position after), so every step is measured on the same footing; `positions: 'all'` takes the
 * whole tensor. A record is taken as the run leaves the hook point, so it includes edits made
 * there. Records are JSON-ready; report/watch-html.ts draws them.
 * Non-goals: per-element traces (dump the tensors instead, see dump.ts).
 */
import { LlmdbgError } from '../errors.js';
import type { ModelConfig } from '../formats/config.js';
import { resolveHooks } from '../model/hooks.js';
import { tensorHealth, type TensorHealth } from '../methods/health/stats.js';
import { gatherSlice } from './slice.js';

export interface WatchSpec {
  /** Hook name or glob. */
  hook: string;
  positions?: 'last' | 'all';
}

export interface Watch {
  id: number;
  spec: Required<WatchSpec>;
  names: ReadonlySet<string>;
}

export interface WatchRecord {
  watch: number;
  hook: string;
  layer: number | null;
  step: number;
  /** Sequence positions measured, first and last. */
  positions: [number, number];
  stats: TensorHealth;
}

export function makeWatch(id: number, spec: WatchSpec, c: ModelConfig): Watch {
  if (typeof spec?.hook !== 'string') throw new LlmdbgError('invalid_argument', 'watch: give a hook name or pattern', { hint: 'e.g. watch blocks.1.hook_resid_post' });
  const positions = spec.positions ?? 'last';
  if (positions !== 'last' && positions !== 'all') throw new LlmdbgError('invalid_argument', `watch: positions "${String(positions)}" must be last or all`);
  return { id, spec: { hook: spec.hook, positions }, names: new Set(resolveHooks(c, [spec.hook]).map((p) => p.name)) };
}

/** Statistics of one watched tensor; `posAxis` locates the pos axis in `shape`. */
export function watchStats(w: Watch, data: ArrayLike<number>, shape: readonly number[], posAxis: number, posOffset: number, masked: boolean): { positions: [number, number]; stats: TensorHealth } {
  const T = shape[posAxis]!;
  if (w.spec.positions === 'all') return { positions: [posOffset, posOffset + T - 1], stats: tensorHealth(data, shape, 'full', { masked }) };
  const sel = shape.map((n, i) => (i === posAxis ? { start: T - 1, stop: T, single: false } : { start: 0, stop: n, single: false }));
  const s = gatherSlice(data, shape, sel);
  const keptShape = sel.map((a) => a.stop - a.start);
  return { positions: [posOffset + T - 1, posOffset + T - 1], stats: tensorHealth(s.data, keptShape, 'full', { masked }) };
}

const STAT_COLUMNS = ['mean', 'std', 'min', 'max', 'absMax', 'norm'] as const;

function num(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

/** Rows for a text table: hook, step, positions, statistics, non-finite count. */
export function watchTable(records: readonly WatchRecord[]): { header: string[]; rows: string[][] } {
  const header = ['watch', 'hook', 'step', 'pos', ...STAT_COLUMNS, 'nonfinite'];
  const rows = records.map((r) => [
    String(r.watch), r.hook, String(r.step), r.positions[0] === r.positions[1] ? String(r.positions[0]) : `${r.positions[0]}..${r.positions[1]}`,
    ...STAT_COLUMNS.map((k) => num(r.stats[k] as number | null | undefined)),
    String((r.stats.nanCount ?? 0) + (r.stats.posInfCount ?? 0) + (r.stats.negInfCount ?? 0)),
  ]);
  return { header, rows };
}
