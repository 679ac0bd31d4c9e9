/**
 * An adversarial attack as a self-contained HTML page: original and adversarial input side by
 * side with the changed tokens highlighted, the goal probability before and after, the step log
 * with an inline SVG chart of the loss per step, and (optionally) the input attribution of the
 * adversarial input toward the attack's goal token. A pure function of its inputs; text is escaped.
 * Non-goals: running the attack or the attribution (the caller does), interactivity.
 */
import { escapeHtml, page, showToken } from './html.js';
import { attributionFragment } from './attribution-html.js';
import type { AttackResult, AttackStepLog } from '../methods/adversarial/types.js';
import type { AttributionResult } from '../methods/attribution/types.js';

/** `changed`: in the original, removed or replaced; in the adversarial input, inserted or replaced. */
export type TokenMark = 'same' | 'changed';

/**
 * Which tokens differ between two id sequences: position by position when the lengths agree
 * (flips), else by a longest common subsequence (insertions of an adversarial prefix/suffix,
 * removals by input reduction).
 */
export function alignTokens(a: readonly number[], b: readonly number[]): { a: TokenMark[]; b: TokenMark[] } {
  if (a.length === b.length) {
    const m = a.map((x, i): TokenMark => (x === b[i] ? 'same' : 'changed'));
    return { a: m, b: [...m] };
  }
  const n = a.length;
  const k = b.length;
  // L[i][j] = LCS length of a[i:] and b[j:], flattened [(n + 1) * (k + 1)].
  const L = new Uint32Array((n + 1) * (k + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = k - 1; j >= 0; j--) {
      L[i * (k + 1) + j] = a[i] === b[j] ? L[(i + 1) * (k + 1) + j + 1]! + 1 : Math.max(L[(i + 1) * (k + 1) + j]!, L[i * (k + 1) + j + 1]!);
    }
  }
  const ma: TokenMark[] = new Array<TokenMark>(n).fill('changed');
  const mb: TokenMark[] = new Array<TokenMark>(k).fill('changed');
  let i = 0;
  let j = 0;
  while (i < n && j < k) {
    if (a[i] === b[j]) {
      ma[i++] = 'same';
      mb[j++] = 'same';
    } else if (L[(i + 1) * (k + 1) + j]! >= L[i * (k + 1) + j + 1]!) i++;
    else j++;
  }
  return { a: ma, b: mb };
}

export interface AttackPageOptions {
  /** Display text of each token (e.g. `model.tokenPieces`); default `[id]`. */
  pieces?: (ids: readonly number[]) => string[];
  /** Attribution of the adversarial input toward the goal token, shown below the step log. */
  attribution?: AttributionResult | null;
  /** Why there is no attribution (shown instead of it). */
  attributionNote?: string;
  title?: string;
}

const CSS = `
.adv .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.adv .tokens { line-height: 2; }
.adv .tok.same { background: #eef1f5; }
.adv .tok.del { background: #fde2e1; color: #912018; text-decoration: line-through; }
.adv .tok.ins { background: #d1fadf; color: #05603a; font-weight: 600; outline: 1px solid #32d583; }
.adv .bar { display: inline-block; height: 10px; background: #2166ac; vertical-align: middle; }
.adv .barbox { display: inline-block; width: 160px; height: 10px; background: #eef1f5; vertical-align: middle; margin-right: 6px; }
.adv .ok { color: #05603a; font-weight: 600; } .adv .fail { color: #b42318; font-weight: 600; }
.adv svg text { font: 11px system-ui, sans-serif; fill: #667085; }
`;

function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(3) : x.toFixed(4);
}

function idPieces(ids: readonly number[]): string[] {
  return ids.map((i) => `[${i}]`);
}

function tokens(ids: readonly number[], pieces: string[], marks: TokenMark[], changedClass: 'del' | 'ins'): string {
  return ids
    .map((id, i) => {
      const cls = marks[i] === 'same' ? 'same' : changedClass;
      const what = marks[i] === 'same' ? '' : changedClass === 'del' ? ' (removed or replaced)' : ' (new)';
      return `<span class="tok ${cls}" title="${escapeHtml(`position ${i}, id ${id}${what}`)}">${escapeHtml(showToken(pieces[i] ?? `[${id}]`))}</span>`;
    })
    .join('');
}

function probBar(p: number): string {
  const w = Number.isFinite(p) ? Math.round(160 * Math.min(1, Math.max(0, p))) : 0;
  return `<span class="barbox"><span class="bar" style="width:${w}px"></span></span>${escapeHtml(num(p))}`;
}

function goalLine(r: AttackResult, pieces: (ids: readonly number[]) => string[]): string {
  const g = r.goal;
  const text = (ids: readonly number[]) => escapeHtml(JSON.stringify(pieces(ids).join('')));
  if (r.method === 'input-reduction') {
    const a = g.kind === 'untargeted' ? g.answerIds ?? r.original.predictionIds : r.original.predictionIds;
    return `keep the prediction ${text(a)} while removing tokens; probability = p(prediction)`;
  }
  if (g.kind === 'targeted') return `targeted: make greedy decoding produce ${text(g.targetIds)} (ids ${escapeHtml(g.targetIds.join(','))}); probability = p(whole target)`;
  const a = g.answerIds ?? r.original.predictionIds;
  return `untargeted: change the top-1 next token away from ${text(a.slice(0, 1))} (id ${a[0] ?? '?'}); probability = p(that answer)`;
}

/** A line chart of the loss per step (step 0 = where the search started), inline SVG. */
export function lossChartSvg(steps: readonly AttackStepLog[], start?: number): string {
  const pts = [...(start !== undefined && Number.isFinite(start) ? [{ x: 0, y: start }] : []), ...steps.filter((s) => Number.isFinite(s.loss)).map((s) => ({ x: s.step, y: s.loss }))];
  if (pts.length === 0) return '<div class="meta">no finite loss to chart</div>';
  const W = 520, H = 170, L = 56, R = 12, T = 10, B = 28;
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const line = pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
  const dots = pts.map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="#2166ac"><title>${escapeHtml(`step ${p.x}: loss ${num(p.y)}`)}</title></circle>`).join('');
  return `<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="loss per step">
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#d9dee7"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#d9dee7"/>
<text x="${L - 4}" y="${T + 8}" text-anchor="end">${escapeHtml(num(y1))}</text><text x="${L - 4}" y="${H - B}" text-anchor="end">${escapeHtml(num(y0))}</text>
<text x="${L}" y="${H - 8}">step ${x0}</text><text x="${W - R}" y="${H - 8}" text-anchor="end">step ${x1}</text>
<polyline fill="none" stroke="#2166ac" stroke-width="1.5" points="${line}"/>${dots}</svg>`;
}

function stepTable(r: AttackResult, pieces: (ids: readonly number[]) => string[]): string {
  if (r.steps.length === 0) return '<div class="meta">no steps were taken</div>';
  const tok = (id: number | null) => (id === null ? '' : `${id} ${escapeHtml(JSON.stringify(pieces([id])[0] ?? ''))}`);
  const rows = r.steps.map((s) => `<tr><td class="num">${s.step}</td><td>${escapeHtml(s.change.kind)}</td><td class="num">${s.change.position}</td><td class="mono">${tok(s.change.fromId)}</td><td class="mono">${tok(s.change.toId)}</td><td class="num">${num(s.loss)}</td><td class="num">${num(s.prob)}</td><td class="num">${s.queries}</td><td class="num">${Math.round(s.ms)}</td></tr>`);
  return `<table><tr><th class="num">step</th><th>change</th><th class="num">position</th><th>from</th><th>to</th><th class="num">loss</th><th class="num">prob</th><th class="num">queries</th><th class="num">elapsed ms</th></tr>${rows.join('')}</table>`;
}

/** The loss where the search started (with the initial adversarial tokens, if any), from `info`. */
function startLoss(r: AttackResult): number | undefined {
  const info = r.info as { start?: { loss?: unknown }; loss?: { original?: unknown } };
  const x = info.start?.loss ?? info.loss?.original;
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/** The embeddable <section> for one attack. */
export function attackFragment(r: AttackResult, opts: AttackPageOptions = {}): string {
  const pieces = opts.pieces ?? idPieces;
  const marks = alignTokens(r.original.ids, r.adversarial.ids);
  const model = (r.info['model'] as { dir?: string } | undefined)?.dir;
  const meta = [
    `${r.method}`, model ? `model ${model}` : '', `${r.steps.length} steps`, `${r.queries} queries`, `${r.gradients} gradients`,
    `${(r.ms / 1000).toFixed(2)} s`, `stop: ${r.stopReason}`,
  ].filter((x) => x !== '').join(' · ');
  const side = (label: string, inp: AttackResult['original'], m: TokenMark[], cls: 'del' | 'ins') => `<div class="panel"><h3>${label}</h3>
<div class="tokens">${tokens(inp.ids, pieces(inp.ids), m, cls)}</div>
<div class="meta">${inp.ids.length} tokens; prediction ${escapeHtml(JSON.stringify(inp.prediction))} (ids ${escapeHtml(inp.predictionIds.join(','))})</div>
<div>goal probability ${probBar(inp.prob)}</div></div>`;
  const attribution = opts.attribution
    ? attributionFragment(opts.attribution, 'Attribution of the adversarial input toward the goal token')
    : `<section><h2>Attribution of the adversarial input</h2><div class="meta">${escapeHtml(opts.attributionNote ?? 'not computed')}</div></section>`;
  return `<section class="adv"><style>${CSS}</style>
<div class="meta">${escapeHtml(meta)}</div>
<p>${goalLine(r, pieces)}. Result: <span class="${r.success ? 'ok' : 'fail'}">${r.success ? 'success' : 'no success'}</span>;
probability ${escapeHtml(num(r.original.prob))} &rarr; ${escapeHtml(num(r.adversarial.prob))}.</p>
<div class="pair">${side('Original', r.original, marks.a, 'del')}${side('Adversarial', r.adversarial, marks.b, 'ins')}</div>
<h2>Loss per step</h2><div class="meta">lower is better for the attacker${startLoss(r) !== undefined ? '; step 0 is where the search started' : ''}</div>${lossChartSvg(r.steps, startLoss(r))}
<h2>Step log</h2>${stepTable(r, pieces)}
</section>${attribution}`;
}

/** A complete self-contained page. */
export function attackPage(r: AttackResult, opts: AttackPageOptions = {}): string {
  return page(opts.title ?? `Attack: ${r.method}`, attackFragment(r, opts), { subtitle: 'llmdbg attack' });
}
