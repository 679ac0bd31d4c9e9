/**
 * Turns the per-phase llmdbg results and the PyTorch baseline into rows (value, baseline, ratio,
 * target, PASS/FAIL), parity checks (both sides computed the same numbers) and a text table.
 * Ratios are oriented so that > 1 always means llmdbg is better: PyTorch ms / llmdbg ms for times,
 * llmdbg tokens/s / PyTorch tokens/s for decode, PyTorch MB / llmdbg MB for memory.
 * Non-goals: measuring anything (worker.ts and torch_baseline.py do).
 */
import type { WorkerResult } from './worker.js';
import type { TorchResult } from './torch.js';

export interface Row {
  metric: string;
  unit: string;
  llmdbg: number | null;
  /** PyTorch at 1 thread, and at its best thread count. */
  torch1: number | null;
  torchBest: number | null;
  /** PyTorch's best configuration: its thread count, and ', passive' when OMP_WAIT_POLICY=PASSIVE won. */
  torchBestThreads: number | string | null;
  /** > 1 means llmdbg is better than PyTorch's best. */
  ratio: number | null;
  target: string | null;
  status: 'PASS' | 'FAIL' | null;
  note?: string;
  /** CPU-time view (user + system; tokens per CPU-second for decode) against PyTorch at 1 thread. */
  cpu?: { llmdbg: number | null; torch1: number | null; ratio: number | null };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const MB = 2 ** 20;

export interface Targets {
  weightBytes: number;
  /** Peak memory bound: 1.5 x float32 weight bytes + 200 MB. */
  memoryBoundMB: number;
  decodeMinTokPerSec: number;
}

export function targetsFor(parameters: number): Targets {
  const weightBytes = parameters * 4;
  return { weightBytes, memoryBoundMB: (1.5 * weightBytes) / MB + 200, decodeMinTokPerSec: 10 };
}

type Phases = Partial<Record<WorkerResult['phase'], WorkerResult>>;

function torchStat(t: TorchResult | null, key: 'prefill_ms' | 'decode_tok_s' | 'saliency_ms' | 'ig_ms'): { t1: number | null; best: number | null; threads: number | string | null; cpu1: number | null } {
  if (!t) return { t1: null, best: null, threads: null, cpu1: null };
  const first = Object.values(t.by_threads).find((r) => r.threads === 1);
  return { t1: first?.[key]?.median ?? null, best: t.best[key]?.value ?? null, threads: t.best[key] ? `${t.best[key]!.threads} thr${t.best[key]!.label ? `, ${t.best[key]!.label}` : ''}` : null, cpu1: first?.[key]?.cpu_median ?? null };
}

function cpuView(mine: number | undefined, torch1: number | null, higherIsBetter: boolean): Row['cpu'] {
  const m = mine ?? null;
  return { llmdbg: m, torch1, ratio: m && torch1 ? (higherIsBetter ? m / torch1 : torch1 / m) : null };
}

/** Peak RSS of the PyTorch process through the same phases, at the first thread count run. */
function torchPeakMB(t: TorchResult, upTo: string[]): number | null {
  let best: number | null = null;
  for (const [k, v] of Object.entries(t.peak_rss_mb_after)) {
    const [phase, threads] = k.split('@');
    if (k === 'load' || (upTo.includes(phase!) && threads === '1')) best = Math.max(best ?? 0, v);
  }
  return best;
}

export function buildRows(p: Phases, torch: TorchResult | null, targets: Targets, promptLen: number): Row[] {
  const rows: Row[] = [];
  const timeRow = (metric: string, v: number | null, cpu: number | undefined, key: 'prefill_ms' | 'saliency_ms' | 'ig_ms', note?: string) => {
    const s = torchStat(torch, key);
    rows.push({ metric, unit: 'ms', llmdbg: v, torch1: s.t1, torchBest: s.best, torchBestThreads: s.threads, ratio: v && s.best ? s.best / v : null, target: null, status: null, ...(note ? { note } : {}), cpu: cpuView(cpu, s.cpu1, false) });
  };
  const load = p.load ?? p.prefill;
  if (load) {
    const tl = torch?.load_ms ?? null;
    rows.push({ metric: 'load', unit: 'ms', llmdbg: load.loadMs, torch1: tl, torchBest: tl, torchBestThreads: null, ratio: tl ? tl / load.loadMs : null, target: null, status: null });
  }
  if (p.prefill?.prefillMs) timeRow(`prefill ${promptLen} tokens`, p.prefill.prefillMs.median, p.prefill.prefillMs.cpuMedian, 'prefill_ms');
  if (p.decode?.decodeTokPerSec) {
    const v = p.decode.decodeTokPerSec.median;
    const s = torchStat(torch, 'decode_tok_s');
    rows.push({
      metric: 'decode', unit: 'tok/s', llmdbg: v, torch1: s.t1, torchBest: s.best, torchBestThreads: s.threads, ratio: s.best ? v / s.best : null,
      target: `>= ${targets.decodeMinTokPerSec}`, status: v >= targets.decodeMinTokPerSec ? 'PASS' : 'FAIL',
      cpu: cpuView(p.decode.decodeTokPerSec.cpuMedian, s.cpu1, true),
    });
  }
  if (p.saliency?.saliencyMs) timeRow('saliency (fwd+bwd)', p.saliency.saliencyMs.median, p.saliency.saliencyMs.cpuMedian, 'saliency_ms');
  if (p.saliency?.attributeSaliencyMs) {
    const a = p.saliency.attributeSaliencyMs;
    rows.push({ metric: 'attribute() saliency (library)', unit: 'ms', llmdbg: a.median, torch1: null, torchBest: null, torchBestThreads: null, ratio: null, target: null, status: null, note: 'the library call: one extra forward for the target log-prob, then forward + backward', cpu: { llmdbg: a.cpuMedian ?? null, torch1: null, ratio: null } });
  }
  if (p.ig?.igMs || torch?.best.ig_ms) {
    const steps = p.ig?.igMs?.steps ?? Object.values(torch!.by_threads)[0]?.ig_ms?.steps ?? 0;
    timeRow(`attribute() integrated gradients ${steps} steps`, p.ig?.igMs?.median ?? null, p.ig?.igMs?.cpuMedian, 'ig_ms', `llmdbg: the library call (zero baseline, trapezoid, ${p.ig?.igMs?.batch ?? '?'} rows per pass, plus its forwards at the input and baseline); PyTorch: one batched forward + backward of ${steps} rows`);
  }
  const main = (['load', 'prefill', 'decode', 'saliency'] as const).filter((k) => p[k]);
  if (main.length) {
    const peak = Math.max(...main.map((k) => p[k]!.memEnd.peakRssMB));
    const tp = torch ? torchPeakMB(torch, main) : null;
    rows.push({
      metric: `peak RSS (${main.join(', ')})`, unit: 'MB', llmdbg: peak, torch1: tp, torchBest: tp, torchBestThreads: null, ratio: tp ? tp / peak : null,
      target: `<= ${targets.memoryBoundMB.toFixed(0)}`, status: peak <= targets.memoryBoundMB ? 'PASS' : 'FAIL',
    });
  }
  if (p.ig) {
    const tp = torch ? (torch.peak_rss_mb_after['ig@1'] ?? null) : null;
    rows.push({ metric: 'peak RSS (ig)', unit: 'MB', llmdbg: p.ig.memEnd.peakRssMB, torch1: tp, torchBest: tp, torchBestThreads: null, ratio: tp ? tp / p.ig.memEnd.peakRssMB : null, target: null, status: null });
  }
  return rows;
}

function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

/** Both sides must have computed the same numbers, or the timings compare different work. */
export function parityChecks(p: Phases, t: TorchResult): Check[] {
  const out: Check[] = [];
  const any = p.prefill ?? p.load ?? p.saliency ?? p.decode;
  if (any) {
    const c = any.check as { prefillTopId: number; prefillTopLogit: number; prefillLogSumExp: number };
    const d = Math.max(Math.abs(c.prefillTopLogit - t.check.prefill_top_logit), Math.abs(c.prefillLogSumExp - t.check.prefill_logsumexp));
    out.push({ name: 'prefill logits', ok: c.prefillTopId === t.check.prefill_top_id && d < 1e-3, detail: `top id ${c.prefillTopId} vs ${t.check.prefill_top_id}, max |diff| of top logit and logsumexp ${d.toExponential(2)}` });
  }
  if (p.saliency && t.check.saliency_grad_norm !== undefined) {
    const c = p.saliency.check as { saliencyLogprob: number; saliencyGradNorm: number; saliencyRowNorms: number[] };
    const rows = t.check.saliency_grad_row_norms ?? [];
    const worst = Math.max(...c.saliencyRowNorms.map((v, i) => relDiff(v, rows[i]!)));
    const ok = Math.abs(c.saliencyLogprob - t.check.saliency_logprob!) < 1e-3 && relDiff(c.saliencyGradNorm, t.check.saliency_grad_norm) < 1e-3 && worst < 1e-2;
    out.push({ name: 'saliency gradient', ok, detail: `logprob ${c.saliencyLogprob.toFixed(5)} vs ${t.check.saliency_logprob!.toFixed(5)}, grad norm rel diff ${relDiff(c.saliencyGradNorm, t.check.saliency_grad_norm).toExponential(2)}, worst row-norm rel diff ${worst.toExponential(2)}` });
  }
  if (p.saliency?.check['attributeSaliencyScores'] && t.check.saliency_grad_row_norms) {
    const a = p.saliency.check['attributeSaliencyScores'] as number[];
    const worst = Math.max(...a.map((v, i) => relDiff(v, t.check.saliency_grad_row_norms![i]!)));
    out.push({ name: 'attribute() saliency scores', ok: worst < 1e-2, detail: `per-position gradient L2 norms, worst rel diff ${worst.toExponential(2)}` });
  }
  if (p.decode && t.check.greedy_ids) {
    const a = p.decode.check['greedyIds'] as number[];
    const b = t.check.greedy_ids;
    let same = 0;
    while (same < Math.min(a.length, b.length) && a[same] === b[same]) same++;
    // Random weights give near-ties, so a late divergence is float rounding, not a bug; the first ids must agree.
    out.push({ name: 'greedy ids', ok: same >= Math.min(4, b.length), detail: `${same} of ${b.length} leading ids agree` });
  }
  if (p.ig && t.check.ig_attr) {
    const a = p.ig.check['igAttr'] as number[];
    const b = t.check.ig_attr;
    const scale = Math.max(...b.map(Math.abs));
    const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]!))) / scale;
    out.push({ name: 'integrated gradients', ok: worst < 1e-2, detail: `max |diff| / max |attr| = ${worst.toExponential(2)}` });
  }
  return out;
}

function fmt(v: number | null, unit: string): string {
  if (v === null) return '-';
  if (unit === 'tok/s') return v.toFixed(2);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** A Markdown table (also readable as plain text). */
export function formatTable(rows: Row[]): string {
  const head = ['metric', 'unit', 'llmdbg', 'PyTorch 1 thr', 'PyTorch best', 'ratio (>1: llmdbg better)', 'target', 'status'];
  const body = rows.map((r) => [
    r.metric, r.unit, fmt(r.llmdbg, r.unit), fmt(r.torch1, r.unit),
    r.torchBest === null ? '-' : `${fmt(r.torchBest, r.unit)}${r.torchBestThreads ? ` (${typeof r.torchBestThreads === 'number' ? `${r.torchBestThreads} thr` : r.torchBestThreads})` : ''}`,
    r.ratio === null ? '-' : r.ratio.toFixed(2), r.target ?? '', r.status ?? '',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The CPU-time view of the timed rows: what each side costs in CPU, unaffected by other processes waiting for the cores. */
export function formatCpuTable(rows: Row[]): string {
  const head = ['metric', 'unit', 'llmdbg CPU', 'PyTorch 1 thr CPU', 'ratio (>1: llmdbg better)'];
  const body = rows.filter((r) => r.cpu).map((r) => {
    const unit = r.unit === 'tok/s' ? 'tok/CPU-s' : 'CPU ms';
    return [r.metric, unit, fmt(r.cpu!.llmdbg, r.unit), fmt(r.cpu!.torch1, r.unit), r.cpu!.ratio === null ? '-' : r.cpu!.ratio.toFixed(2)];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
