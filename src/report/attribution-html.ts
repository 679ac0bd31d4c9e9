/**
 * Attribution results as self-contained HTML: the prompt's tokens shaded by score with hover
 * values, word scores, and for a whole continuation the source x generated heatmap.
 * `attributionFragment` is embeddable (the demo report includes it; it carries its own <style>);
 * `attributionPage` wraps it in a full page. Model text is always escaped. Non-goals: interactivity.
 */
import { divColor, escapeHtml, page, seqColor, showToken, textOn } from './html.js';
import type { AttributionResult, TokenRef, WordScore } from '../methods/attribution/types.js';

const CSS = `
.attr .tokens { line-height: 2; margin: 6px 0; }
.attr .tok { cursor: default; }
.attr .legend { font-size: 12px; color: var(--muted, #667085); }
.attr table.heat { border-collapse: collapse; font-size: 12px; }
.attr table.heat td, .attr table.heat th { border: 1px solid #fff; padding: 2px 4px; text-align: center; min-width: 26px; }
.attr table.heat th.src { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; white-space: pre; font-family: ui-monospace, Menlo, Consolas, monospace; }
.attr table.heat th.tgt { text-align: right; white-space: pre; font-weight: normal; font-family: ui-monospace, Menlo, Consolas, monospace; }
.attr table.heat td.na { background: #f2f4f7; }
.attr .warn { color: #b54708; }
`;

function unsigned(method: string): boolean {
  return method === 'saliency' || method === 'smoothgrad' || method === 'vargrad';
}

function scaleOf(rows: readonly (readonly number[])[]): number {
  let m = 0;
  for (const r of rows) for (const v of r) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : x.toFixed(4);
}

function color(method: string, x: number, scale: number): string {
  return unsigned(method) ? seqColor(x / scale) : divColor(x / scale);
}

function shaded(method: string, tokens: readonly TokenRef[], scores: readonly number[], scale: number): string {
  return scores
    .map((s, i) => {
      const bg = color(method, s, scale);
      const t = tokens[i]!;
      return `<span class="tok" style="background:${bg};color:${textOn(bg)}" title="${escapeHtml(`position ${i}, id ${t.id}: ${num(s)}`)}">${escapeHtml(showToken(t.text))}</span>`;
    })
    .join('');
}

function wordsLine(method: string, words: readonly WordScore[], scale: number): string {
  const ws = scaleOf([words.map((w) => w.score)]) || scale;
  return words
    .map((w) => {
      const bg = color(method, w.score, ws);
      return `<span class="tok" style="background:${bg};color:${textOn(bg)}" title="${escapeHtml(`tokens ${w.start}-${w.end - 1}: ${num(w.score)}`)}">${escapeHtml(showToken(w.text))}</span>`;
    })
    .join(' ');
}

function header(r: AttributionResult): string {
  const p = r.info.parameters;
  const params = Object.entries(p)
    .filter(([k]) => k !== 'alphas' && k !== 'weights')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? num(v) : String(v)}`)
    .join(', ');
  let target: string;
  if (r.kind === 'single') {
    const t = r.target;
    target = `target ${escapeHtml(JSON.stringify(t.text))} (id ${t.id}, p=${t.prob.toFixed(4)}${t.source === 'top' ? ', top prediction' : ''})`;
    if (t.foil) target += ` minus foil ${escapeHtml(JSON.stringify(t.foil.text))} (id ${t.foil.id})`;
  } else {
    target = `continuation of ${r.target.ids.length} tokens: ${escapeHtml(r.target.texts.map((x) => JSON.stringify(x)).join(' '))}`;
  }
  const legend = unsigned(r.method) ? 'white = 0, blue = largest score' : 'blue = raises the target, red = lowers it';
  return `<div class="meta">${escapeHtml(r.method)}${params ? ` (${escapeHtml(params)})` : ''}: ${target}; ${escapeHtml(r.info.model.dir)}, ${r.info.durationMs} ms. <span class="legend">${legend}; hover for values.</span></div>`;
}

function completenessLine(r: AttributionResult): string {
  if (r.kind === 'single') {
    const c = r.completeness;
    return c ? `<div class="meta">completeness: sum ${num(c.sum)} vs f(input) - f(baseline) = ${num(c.fInput - c.fBaseline)} (gap ${num(c.delta)}, ${(100 * c.relative).toFixed(2)}%)</div>` : '';
  }
  return r.completeness ? `<div class="meta">completeness gaps per row: ${r.completeness.map((c) => `${(100 * c.relative).toFixed(1)}%`).join(', ')}</div>` : '';
}

function heatmap(r: Extract<AttributionResult, { kind: 'continuation' }>): string {
  const scale = scaleOf(r.scores);
  const head = `<tr><th></th>${r.tokens.map((t, i) => `<th class="src" title="${escapeHtml(`position ${i}, id ${t.id}`)}">${escapeHtml(showToken(t.text))}</th>`).join('')}</tr>`;
  const body = r.scores
    .map((row, g) => {
      const cells = r.tokens.map((t, s) => {
        if (s >= row.length) return '<td class="na"></td>';
        const bg = color(r.method, row[s]!, scale);
        return `<td style="background:${bg}" title="${escapeHtml(`${JSON.stringify(r.target.texts[g])} <- ${JSON.stringify(t.text)} (position ${s}): ${num(row[s]!)}`)}"></td>`;
      });
      return `<tr><th class="tgt">${escapeHtml(showToken(r.target.texts[g]!))}</th>${cells.join('')}</tr>`;
    })
    .join('');
  return `<table class="heat">${head}${body}</table>`;
}

/** An embeddable <section> for one result. */
export function attributionFragment(r: AttributionResult, title = 'Input attribution'): string {
  const warnings = r.warnings.map((w) => `<div class="meta warn">warning: ${escapeHtml(w)}</div>`).join('');
  let body: string;
  if (r.kind === 'single') {
    const scale = scaleOf([r.scores]);
    body = `<div class="tokens">${shaded(r.method, r.tokens, r.scores, scale)} <span class="meta">&rarr; ${escapeHtml(JSON.stringify(r.target.text))}</span></div>
<div class="meta">words</div><div class="tokens">${wordsLine(r.method, r.words, scale)}</div>`;
  } else {
    const scale = scaleOf(r.scores);
    const last = r.scores[r.scores.length - 1]!;
    body = `<div class="meta">rows: continuation tokens; columns: the tokens before them (grey: not visible to that row)</div>${heatmap(r)}
<div class="meta">last row on the text</div><div class="tokens">${shaded(r.method, r.tokens, last, scale)}</div>`;
  }
  return `<section class="attr"><style>${CSS}</style><h2>${escapeHtml(title)}</h2>${header(r)}${completenessLine(r)}${warnings}${body}</section>`;
}

/** A complete self-contained HTML page for one result. */
export function attributionPage(r: AttributionResult, title = `Attribution: ${r.method}`): string {
  return page(title, attributionFragment(r, r.kind === 'single' ? 'Prompt tokens' : 'Continuation matrix'), { subtitle: `llmdbg attribute, ${r.info.model.dir}` });
}
