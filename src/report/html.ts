/**
 * Building blocks for llmdbg's self-contained HTML reports: escaping, the page shell, and colour
 * scales. Every report is one file with inline CSS/SVG/JS and no network access, so it can be
 * mailed or attached to an issue. Model-derived strings (tokens, names) are always escaped.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Makes whitespace in a token visible: a leading space as ␣, newlines as ⏎. */
export function showToken(s: string): string {
  return s.replace(/ /g, '␣').replace(/\n/g, '⏎').replace(/\t/g, '⇥');
}

const BASE_CSS = `
:root { --fg: #1d2330; --muted: #667085; --line: #d9dee7; --bg: #ffffff; --panel: #f6f8fb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--fg); background: var(--bg); margin: 0; padding: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: var(--muted); font-size: 12px; }
section { margin-bottom: 28px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }
.tok { display: inline-block; padding: 1px 2px; margin: 1px 0; border-radius: 3px; white-space: pre; font-family: ui-monospace, Menlo, Consolas, monospace; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
`;

/** A complete HTML document. `body` must already be escaped where it holds untrusted text. */
export function page(title: string, body: string, opts: { css?: string; script?: string; subtitle?: string } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; frame-src 'self' about: data:">
<title>${escapeHtml(title)}</title><style>${BASE_CSS}${opts.css ?? ''}</style></head>
<body><h1>${escapeHtml(title)}</h1>${opts.subtitle ? `<div class="meta">${escapeHtml(opts.subtitle)}</div>` : ''}
${body}
${opts.script ? `<script>${opts.script}</script>` : ''}
</body></html>
`;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Sequential white -> blue for values in [0, 1]. */
export function seqColor(x: number): string {
  const t = clamp01(x);
  const r = Math.round(255 - t * (255 - 33));
  const g = Math.round(255 - t * (255 - 102));
  const b = Math.round(255 - t * (255 - 172));
  return `rgb(${r},${g},${b})`;
}

/** Diverging red (negative) - white - blue (positive) for values in [-1, 1]. */
export function divColor(x: number): string {
  if (!Number.isFinite(x)) return 'rgb(255,0,255)';
  const t = Math.min(1, Math.abs(x));
  if (x >= 0) return `rgb(${Math.round(255 - t * 222)},${Math.round(255 - t * 153)},${Math.round(255 - t * 83)})`;
  return `rgb(${Math.round(255 - t * 41)},${Math.round(255 - t * 215)},${Math.round(255 - t * 211)})`;
}

/** Black or white text, whichever reads better on an rgb() background. */
export function textOn(rgb: string): string {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(rgb);
  if (!m) return '#000';
  const l = 0.299 * Number(m[1]) + 0.587 * Number(m[2]) + 0.114 * Number(m[3]);
  return l < 140 ? '#fff' : '#000';
}
