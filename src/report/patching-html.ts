/**
 * Patching and causal-tracing pictures: one self-contained HTML page with a heatmap per result
 * (rows = layers or layer-heads, columns = positions with their tokens, or heads), coloured by the
 * share of the clean-corrupted gap each patch recovers (blue = restored, red = pushed further away,
 * grey = undefined), with the metric value on hover. Non-goal: computing the results.
 */
import { divColor, escapeHtml, page, showToken } from './html.js';

export interface HeatmapInput {
  title: string;
  /** What the cell values measure, e.g. "logit difference" or "p(target)". */
  metric: string;
  rows: string[];
  cols: string[];
  /** Token under each column (position columns), shown as column labels. */
  colTokens?: string[];
  /** Second token row (e.g. the corrupted prompt), shown in red where it differs from colTokens. */
  colTokensAlt?: string[];
  values: number[][];
  recovered: (number | null)[][];
  note?: string;
}

const CSS = `
table.heat { border-collapse: separate; border-spacing: 1px; }
table.heat tr:not(:first-child) td.cell { box-shadow: 0 0 0 1px #e4e7ec; }
table.heat td.cell { width: 34px; height: 24px; padding: 0; border: none; font-size: 10px; text-align: center; }
table.heat th { font: 11px ui-monospace, Menlo, monospace; font-weight: normal; border: none; padding: 1px 4px; white-space: pre; }
table.heat th.col { vertical-align: bottom; text-align: center; }
.legend { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); }
.legend span.sw { display: inline-block; width: 22px; height: 12px; border: 1px solid var(--line); }
`;

function heatmap(h: HeatmapInput, index: number): string {
  const head = `<tr><th></th>${h.cols.map((c, j) => `<th class="col">${escapeHtml(c)}${h.colTokens ? `<br>${escapeHtml(showToken(h.colTokens[j] ?? ''))}` : ''}${h.colTokensAlt ? `<br><span style="color:${h.colTokensAlt[j] === h.colTokens?.[j] ? 'var(--muted)' : '#d92d20'}">${escapeHtml(showToken(h.colTokensAlt[j] ?? ''))}</span>` : ''}</th>`).join('')}</tr>`;
  const body = h.rows.map((r, i) => `<tr><th>${escapeHtml(r)}</th>${h.cols.map((c, j) => {
    const rec = h.recovered[i]?.[j] ?? null;
    const v = h.values[i]?.[j] ?? NaN;
    const bg = rec === null ? 'rgb(200,200,200)' : divColor(rec);
    const tip = `${r} / ${c}${h.colTokens ? ` ${JSON.stringify(h.colTokens[j] ?? '')}` : ''}: ${h.metric} ${v.toFixed(4)}, recovered ${rec === null ? 'n/a' : (rec * 100).toFixed(1) + '%'}`;
    return `<td class="cell" data-row="${i}" data-col="${j}" style="background:${bg}" title="${escapeHtml(tip)}"></td>`;
  }).join('')}</tr>`).join('');
  return `<section class="heatmap" data-index="${index}"><h2>${escapeHtml(h.title)}</h2>${h.note ? `<p class="meta">${escapeHtml(h.note)}</p>` : ''}<table class="heat">${head}${body}</table></section>`;
}

export function patchingReportHtml(title: string, maps: HeatmapInput[], subtitle?: string): string {
  const legend = `<div class="legend">recovered share: <span class="sw" style="background:${divColor(-1)}"></span>-100% <span class="sw" style="background:${divColor(0)}"></span>0 <span class="sw" style="background:${divColor(1)}"></span>100% <span class="sw" style="background:rgb(200,200,200)"></span>undefined (clean = corrupted)</div>`;
  return page(title, `${legend}${maps.map(heatmap).join('')}`, { css: CSS, ...(subtitle ? { subtitle } : {}) });
}
