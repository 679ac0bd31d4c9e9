/**
 * Runs bench/torch_baseline.py (PyTorch, same model file and prompt) from the benchmark, when
 * `/usr/bin/python3 -c "import torch"` works; otherwise says why it was skipped.
 * Fairness: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed for that command only, and the
 * script keeps the faster of the thread counts it is given.
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
  best: Partial<Record<'prefill_ms' | 'saliency_ms' | 'ig_ms' | 'decode_tok_s', { value: number; threads: number }>>;
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
  const r = await runChild(PYTHON, args, { env: { OPENBLAS_CORETYPE: undefined, OPENBLAS_L2_SIZE: undefined } });
  const result = lastJson<TorchResult>(r.stdout);
  if (r.code !== 0 || !result) return { ok: false, skipped: false, reason: `torch_baseline.py exited ${r.code ?? r.signal}: ${lastLine(r.stderr)}` };
  return { ok: true, result, ms: r.ms };
}
