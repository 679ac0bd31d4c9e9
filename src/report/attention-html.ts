/**
 * The attention picture: one self-contained HTML page with every head as a small heatmap (grid of
 * layers x heads), a detailed query x key heatmap with token labels for the selected head, a line
 * view between tokens, hover values, and the ranked head-score tables. Canvas drawing from
 * embedded JSON (no network). Clicking a grid panel selects a head.
 * Non-goals: computing patterns or scores (methods/attention/), editing from the page.
 */
import { escapeHtml, page, showToken } from './html.js';
import type { AttentionPatterns } from '../methods/attention/heads.js';
import type { HeadStatsResult } from '../methods/attention/heads.js';

export interface AttentionReportInput {
  title?: string;
  subtitle?: string;
  patterns: AttentionPatterns;
  stats?: HeadStatsResult;
  /** Head shown in the detail and line views (default L0H0). */
  selected?: { layer: number; head: number };
  /** Rows in each ranked table (default 10). */
  topHeads?: number;
}

const CSS = `
.grid { display: grid; gap: 6px; align-items: start; }
.grid .rowlbl { font: 12px ui-monospace, Menlo, monospace; color: var(--muted); align-self: center; }
.head { border: 1px solid var(--line); border-radius: 4px; padding: 3px; cursor: pointer; background: #fff; }
.head.sel { border-color: #d92d20; box-shadow: 0 0 0 1px #d92d20; }
.head canvas { display: block; image-rendering: pixelated; }
.head .lbl { font: 10px ui-monospace, Menlo, monospace; color: var(--muted); text-align: center; }
#detail-wrap { position: relative; display: inline-block; }
#detail { display: block; }
.klbl { position: absolute; transform-origin: left bottom; transform: rotate(-60deg); white-space: pre; font: 11px ui-monospace, Menlo, monospace; }
.qlbl { position: absolute; text-align: right; white-space: pre; font: 11px ui-monospace, Menlo, monospace; }
#tip { position: fixed; pointer-events: none; background: #1d2330; color: #fff; font: 12px ui-monospace, Menlo, monospace; padding: 3px 6px; border-radius: 3px; display: none; z-index: 10; white-space: pre; }
#lines text { font: 12px ui-monospace, Menlo, monospace; }
.tables { display: flex; flex-wrap: wrap; gap: 18px; }
`;

/** Weights rounded to 4 decimals keep the file small; the picture needs no more. */
function compact(a: Float32Array): number[] {
  return Array.from(a, (x) => Math.round(x * 1e4) / 1e4);
}

const SCRIPT = `
const D = JSON.parse(document.getElementById('attn-data').textContent);
const T = D.T, L = D.nLayers, H = D.nHeads;
let sel = D.selected;
function color(x) {
  const t = Math.min(1, Math.max(0, x));
  return [Math.round(255 - t * 222), Math.round(255 - t * 153), Math.round(255 - t * 83)];
}
function w(l, h, q, k) { return D.layers[l][(h * T + q) * T + k]; }
function draw(canvas, l, h, cell) {
  canvas.width = T * cell; canvas.height = T * cell;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(T * cell, T * cell);
  for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) {
    const c = k > q ? [255, 255, 255] : color(w(l, h, q, k));
    for (let y = 0; y < cell; y++) for (let x = 0; x < cell; x++) {
      const i = ((q * cell + y) * T * cell + k * cell + x) * 4;
      img.data[i] = c[0]; img.data[i + 1] = c[1]; img.data[i + 2] = c[2]; img.data[i + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}
const tip = document.getElementById('tip');
function showTip(e, text) { tip.textContent = text; tip.style.display = 'block'; tip.style.left = (e.clientX + 14) + 'px'; tip.style.top = (e.clientY + 12) + 'px'; }
function hideTip() { tip.style.display = 'none'; }
function cellAt(e, canvas) {
  const r = canvas.getBoundingClientRect();
  const k = Math.floor((e.clientX - r.left) / r.width * T), q = Math.floor((e.clientY - r.top) / r.height * T);
  return q >= 0 && q < T && k >= 0 && k < T ? [q, k] : null;
}
function label(q, k, l, h) {
  const v = k > q ? 'masked' : w(l, h, q, k).toFixed(4);
  return 'L' + l + 'H' + h + '  query ' + q + ' ' + JSON.stringify(D.tokens[q]) + ' -> key ' + k + ' ' + JSON.stringify(D.tokens[k]) + ': ' + v;
}
// grid
const mini = D.mini;
document.querySelectorAll('.head').forEach((el) => {
  const l = +el.dataset.layer, h = +el.dataset.head;
  const cv = el.querySelector('canvas');
  draw(cv, l, h, mini);
  cv.addEventListener('mousemove', (e) => { const c = cellAt(e, cv); if (c) showTip(e, label(c[0], c[1], l, h)); });
  cv.addEventListener('mouseleave', hideTip);
  el.addEventListener('click', () => select(l, h));
});
// detail + lines
const det = document.getElementById('detail');
det.addEventListener('mousemove', (e) => { const c = cellAt(e, det); if (c) showTip(e, label(c[0], c[1], sel.layer, sel.head)); });
det.addEventListener('mouseleave', hideTip);
function lines() {
  const svg = document.getElementById('lines');
  const rowH = 20, left = 10, right = 330, top = 34;
  let s = '';
  for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) {
    const v = w(sel.layer, sel.head, q, k);
    if (v < 0.01) continue;
    s += '<line data-q="' + q + '" data-k="' + k + '" x1="' + (left + 130) + '" y1="' + (top + k * rowH) + '" x2="' + (right - 130) + '" y2="' + (top + q * rowH) + '" stroke="rgb(33,102,172)" stroke-width="' + (1 + 3 * v).toFixed(2) + '" stroke-opacity="' + v.toFixed(4) + '"><title>' + label(q, k, sel.layer, sel.head).replace(/&/g, '&amp;').replace(/</g, '&lt;') + '</title></line>';
  }
  for (let t = 0; t < T; t++) {
    const tok = D.labels[t].replace(/&/g, '&amp;').replace(/</g, '&lt;');
    s += '<text x="' + (left + 124) + '" y="' + (top + t * rowH + 4) + '" text-anchor="end">' + tok + '</text>';
    s += '<text x="' + (right - 124) + '" y="' + (top + t * rowH + 4) + '">' + tok + '</text>';
  }
  svg.setAttribute('height', String(top + T * rowH));
  svg.innerHTML = '<text x="' + (left + 124) + '" y="' + (top - 18) + '" text-anchor="end" fill="#667085">keys</text><text x="' + (right - 124) + '" y="' + (top - 18) + '" fill="#667085">queries</text>' + s;
}
function select(l, h) {
  sel = { layer: l, head: h };
  document.querySelectorAll('.head').forEach((el) => el.classList.toggle('sel', +el.dataset.layer === l && +el.dataset.head === h));
  document.getElementById('sel-name').textContent = 'L' + l + 'H' + h;
  draw(det, l, h, D.cell);
  lines();
}
select(sel.layer, sel.head);
document.body.dataset.ready = '1';
`;

function table(title: string, rows: { layer: number; head: number; value: number }[]): string {
  return `<div><h3>${escapeHtml(title)}</h3><table><tr><th>#</th><th>head</th><th class="num">score</th></tr>${rows
    .map((r, i) => `<tr><td class="num">${i + 1}</td><td class="mono">L${r.layer}H${r.head}</td><td class="num">${r.value.toFixed(4)}</td></tr>`)
    .join('')}</table></div>`;
}

const SCORE_TITLES: Record<string, string> = {
  entropy: 'entropy (nats, prompt)', maxWeight: 'max weight (prompt)', firstToken: 'attention to first token (prompt)', prevToken: 'previous token (prompt)',
  duplicate: 'duplicate token (prompt)', induction: 'induction (prompt)', 'rep.prevToken': 'previous token (repeated random)',
  'rep.duplicate': 'duplicate token (repeated random)', 'rep.induction': 'induction (repeated random)',
};

// LIMITATION: the grid draws every head at once; beyond ~64 tokens x 144 heads panels get small and the
// file large (weights are stored with 4 decimals).
export function attentionReportHtml(input: AttentionReportInput): string {
  const p = input.patterns;
  const T = p.T;
  const mini = Math.max(2, Math.min(12, Math.floor(96 / T)));
  const cell = Math.max(8, Math.min(28, Math.floor(560 / T)));
  const labels = p.tokens.map((t) => showToken(t));
  const sel = input.selected ?? { layer: 0, head: 0 };
  const data = { T, nLayers: p.nLayers, nHeads: p.nHeads, tokens: p.tokens, labels, layers: p.layers.map(compact), selected: sel, mini, cell };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');

  const grid = [`<div class="grid" style="grid-template-columns: 40px repeat(${p.nHeads}, max-content)"><div></div>`];
  for (let h = 0; h < p.nHeads; h++) grid.push(`<div class="lbl meta" style="text-align:center">H${h}</div>`);
  for (let l = 0; l < p.nLayers; l++) {
    grid.push(`<div class="rowlbl">L${l}</div>`);
    for (let h = 0; h < p.nHeads; h++) {
      grid.push(`<div class="head" data-layer="${l}" data-head="${h}" title="L${l}H${h}"><canvas width="${T * mini}" height="${T * mini}" style="width:${T * mini}px;height:${T * mini}px"></canvas><div class="lbl">L${l}H${h}</div></div>`);
    }
  }
  grid.push('</div>');

  const lblW = 120, topH = 90;
  const keyLabels = labels.map((t, k) => `<div class="klbl" style="left:${lblW + k * cell + cell / 2 - 4}px;top:${topH - 16}px">${escapeHtml(t)}</div>`).join('');
  const qLabels = labels.map((t, q) => `<div class="qlbl" style="left:0;width:${lblW - 6}px;top:${topH + q * cell + cell / 2 - 8}px">${escapeHtml(t)}</div>`).join('');
  const detail = `<div id="detail-wrap" style="width:${lblW + T * cell + 40}px;height:${topH + T * cell + 4}px">${keyLabels}${qLabels}<canvas id="detail" width="${T * cell}" height="${T * cell}" style="position:absolute;left:${lblW}px;top:${topH}px;width:${T * cell}px;height:${T * cell}px"></canvas></div>`;

  let stats = '';
  if (input.stats) {
    const n = input.topHeads ?? 10;
    stats = `<section><h2>Heads ranked by score</h2><div class="tables">${Object.entries(input.stats.rankings)
      .map(([k, rows]) => table(SCORE_TITLES[k] ?? k, rows.slice(0, n)))
      .join('')}</div><p class="meta">Repeated random sequences: ${input.stats.repeated.batch} rows of length ${input.stats.repeated.length}, seed ${input.stats.repeated.seed}.</p></section>`;
  }
  const body = `
<section><h2>All heads</h2><p class="meta">Rows are layers, columns heads; each panel is query (down) x key (across). White = no attention or masked, dark blue = weight 1. Click a panel to select it; hover for values.</p>${grid.join('')}</section>
<section><h2>Head <span id="sel-name"></span>: query x key</h2>${detail}</section>
<section><h2>Lines</h2><p class="meta">Each line joins a query (right) to a key (left); thickness and opacity follow the weight (weights below 0.01 omitted).</p><svg id="lines" width="340" height="100"></svg></section>
${stats}
<div id="tip"></div>
<script type="application/json" id="attn-data">${json}</script>`;
  return page(input.title ?? 'Attention', body, { css: CSS, script: SCRIPT, subtitle: input.subtitle ?? `${p.nLayers} layers x ${p.nHeads} heads, ${T} tokens` });
}
