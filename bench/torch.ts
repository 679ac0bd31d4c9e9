/**
 * Runs bench/torch_baseline.py (PyTorch, same model file and prompt) from the benchmark, when
 * `/usr/bin/python3 -c "import torch"` works; otherwise says why it was skipped.
 * Fairness: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed for that command only, and the
 * script keeps the faster of the thread counts it is given. It runs twice: with the default OpenMP
 * wait policy and with OMP_WAIT_POLICY=PASSIVE, and the faster of the two is kept per phase. At 2
 * threads PyTorch's OpenMP workers spin after each parallel region and starve OpenBLAS's threads:
 * measured 2026-12-04 on the 2-core machine, prefill 392-482 ms by default vs 136 ms passive
 * (1 thread: 215-219 ms either way), so a baseline without the passive run is half as fast as
 * PyTorch can be here.
 * Non-goals: installing PyTorch, other Python interpreters.
 */
import { join } from 'node:path';
import { BENCH_ROOT } from './make-model.js';
import { lastJson, lastLine, runChild } from './common.js';

export const PYTHON = '/usr/bin/python3';

interface TimedStat { median: number; all: number[]; cpu_median?: number }

export interface TorchResult {
  torch: string;
  load_ms: number;
  by_threads: Record<string, { threads: number; prefill_ms?: TimedStat; decode_tok_s?: TimedStat; saliency_ms?: TimedStat; ig_ms?: TimedStat & { steps: number; batch: number } }>;
  /** threads and, when it won, the OpenMP wait policy (`label: 'passive'`). */
  best: Partial<Record<'prefill_ms' | 'saliency_ms' | 'ig_ms' | 'decode_tok_s', { value: number; threads: number; label?: string }>>;
  peak_rss_mb_after: Record<string, number>;
  check: {
    prefill_top_id: number; prefill_top_logit: number; prefill_logsumexp: number;
    greedy_ids?: number[]; saliency_logprob?: number; saliency_grad_norm?: number; saliency_grad_row_norms?: number[];
    ig_attr?: number[]; ig_f_input?: number; ig_f_baseline?: number;
  };
}

export type TorchOutcome = { ok: true; result: TorchResult; ms: number } | { ok: false; skipped: boolean; reason: string };

export async function torchAvailable(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  try {
    const r = await runChild(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { timeoutMs: 120_000 });
    if (r.code === 0) return { ok: true, version: r.stdout.trim() };
    return { ok: false, reason: `${PYTHON} -c "import torch" failed: ${lastLine(r.stderr)}` };
  } catch (e) {
    return { ok: false, reason: `${PYTHON} could not be started (${(e as Error).message})` };
  }
}

export interface TorchOptions {
  model: string;
  ids: number[];
  decode: number;
  repeats: number;
  threads: number[];
  igSteps: number;
  phases: string[];
}

export async function runTorchBaseline(o: TorchOptions): Promise<TorchOutcome> {
  const avail = await torchAvailable();
  if (!avail.ok) return { ok: false, skipped: true, reason: avail.reason };
  const args = [
    join(BENCH_ROOT, 'torch_baseline.py'), '--model', o.model, '--ids', o.ids.join(','), '--decode', String(o.decode),
    '--repeats', String(o.repeats), '--threads', o.threads.join(','), '--ig-steps', String(o.igSteps), '--phases', o.phases.join(','),
  ];
  let merged: TorchResult | null = null;
  let ms = 0;
  for (const policy of [undefined, 'PASSIVE'] as const) {
    const r = await runChild(PYTHON, args, { env: { OPENBLAS_CORETYPE: undefined, OPENBLAS_L2_SIZE: undefined, OMP_WAIT_POLICY: policy } });
    const result = lastJson<TorchResult>(r.stdout);
    if (r.code !== 0 || !result) return { ok: false, skipped: false, reason: `torch_baseline.py${policy ? ` (OMP_WAIT_POLICY=${policy})` : ''} exited ${r.code ?? r.signal}: ${lastLine(r.stderr)}` };
    ms += r.ms;
    if (!merged) {
      merged = result;
      continue;
    }
    // the passive run's timings join as "<threads>-passive"; its best replaces a slower one
    for (const [k, v] of Object.entries(result.by_threads)) merged.by_threads[`${k}-passive`] = v;
    for (const [k, b] of Object.entries(result.best) as [keyof TorchResult['best'], { value: number; threads: number }][]) {
      const cur = merged.best[k];
      const better = !cur || (k === 'decode_tok_s' ? b.value > cur.value : b.value < cur.value);
      if (better) merged.best[k] = { ...b, label: 'passive' };
    }
  }
  return { ok: true, result: merged!, ms };
}
