/**
 * Watch report: how a watched hook's statistics evolve over generation steps, as one
 * self-contained HTML file: per hook a small inline-SVG line chart of mean, std, |x| max and norm
 * against the step, and the table of every record. Non-finite counts are marked in red.
 * Non-goals: interactivity beyond hover titles, per-element views.
 */
import type { WatchRecord, WatchSpec } from '../debugger/watch.js';
import { escapeHtml, page } from './html.js';

const SERIES = [
  { key: 'mean', color: '#2166ac' },
  { key: 'std', color: '#b2182b' },
  { key: 'absMax', color: '#1b7837' },
  { key: 'norm', color: '#762a83' },
] as const;

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '-';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(5)));
}

/** One small chart per statistic (each on its own scale), steps on x. */
function chart(recs: readonly WatchRecord[]): string {
  const W = 220, H = 90, P = 6;
  const steps = recs.map((r) => r.step);
  const x0 = Math.min(...steps), x1 = Math.max(...steps);
  const sx = (s: number) => P + (x1 === x0 ? (W - 2 * P) / 2 : ((s - x0) / (x1 - x0)) * (W - 2 * P));
  return SERIES.map(({ key, color }) => {
    const ys = recs.map((r) => r.stats[key] as number | null | undefined);
    const finite = ys.filter((y): y is number => typeof y === 'number' && Number.isFinite(y));
    if (finite.length === 0) return `<figure><div class="meta">${key}: no finite values</div></figure>`;
    const lo = Math.min(...finite), hi = Math.max(...finite);
    const sy = (y: number) => H - P - (hi === lo ? (H - 2 * P) / 2 : ((y - lo) / (hi - lo)) * (H - 2 * P));
    const pts = recs.map((r, i) => (typeof ys[i] === 'number' && Number.isFinite(ys[i]) ? `${sx(r.step).toFixed(1)},${sy(ys[i]!).toFixed(1)}` : null)).filter((p) => p !== null);
    const dots = recs.map((r, i) => (typeof ys[i] === 'number' && Number.isFinite(ys[i]) ? `<circle cx="${sx(r.step).toFixed(1)}" cy="${sy(ys[i]!).toFixed(1)}" r="2.5" fill="${color}"><title>step ${r.step}: ${key} ${fmt(ys[i])}</title></circle>` : '')).join('');
    return `<figure><svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${key} by step"><rect x="0" y="0" width="${W}" height="${H}" fill="#f6f8fb" stroke="#d9dee7"/><polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(' ')}"/>${dots}</svg><figcaption>${key}: ${fmt(lo)} .. ${fmt(hi)}</figcaption></figure>`;
  }).join('');
}

function tableOf(recs: readonly WatchRecord[]): string {
  const head = ['step', 'positions', 'mean', 'std', 'min', 'max', '|x| max', 'norm', 'zeros', 'nan', 'inf', 'fp16 headroom'];
  const rows = recs.map((r) => {
    const s = r.stats;
    const bad = (s.nanCount ?? 0) + (s.posInfCount ?? 0) + (s.negInfCount ?? 0) > 0;
    const cells = [
      String(r.step), r.positions[0] === r.positions[1] ? String(r.positions[0]) : `${r.positions[0]}..${r.positions[1]}`,
      fmt(s.mean), fmt(s.std), fmt(s.min), fmt(s.max), fmt(s.absMax), fmt(s.norm), `${(((s.zeroFraction ?? 0) * 100)).toFixed(1)}%`,
      String(s.nanCount ?? '-'), String((s.posInfCount ?? 0) + (s.negInfCount ?? 0)),
      s.fp16?.headroomBits === null || s.fp16?.headroomBits === undefined ? '-' : `${s.fp16.headroomBits.toFixed(1)} bits`,
    ];
    return `<tr${bad ? ' class="bad"' : ''}>${cells.map((c, j) => `<td${j > 1 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((h, j) => `<th${j > 1 ? ' class="num"' : ''}>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The report page for watch records; `meta` describes the run for the subtitle. */
export function watchReportHtml(records: readonly WatchRecord[], meta: { model: string; ids: number[]; watches: readonly WatchSpec[] }): string {
  const byHook = new Map<string, WatchRecord[]>();
  for (const r of records) {
    const k = `${r.watch}\u0000${r.hook}`;
    byHook.set(k, [...(byHook.get(k) ?? []), r]);
  }
  const sections = [...byHook.values()].map((recs) => {
    const r0 = recs[0]!;
    const spec = meta.watches[r0.watch - 1];
    return `<section><h2><code>${escapeHtml(r0.hook)}</code></h2><div class="meta">watch ${r0.watch}${spec ? ` (${escapeHtml(spec.hook)}, ${escapeHtml(spec.positions ?? 'last')} positions)` : ''}, ${recs.length} step${recs.length === 1 ? '' : 's'}</div><div class="charts">${chart(recs)}</div>${tableOf(recs)}</section>`;
  });
  const body = sections.length ? sections.join('\n') : '<p>No watch records: add a watch (<code>watch HOOK</code>) and run.</p>';
  const css = `.charts { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0; } figure { margin: 0; } figcaption { font-size: 12px; color: var(--muted); } tr.bad td { color: #b2182b; font-weight: 600; }`;
  return page('llmdbg watches', body, { css, subtitle: `${meta.model} - prompt ids ${meta.ids.join(' ')}` });
}
