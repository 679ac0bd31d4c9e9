/**
 * Attribution results as terminal text: tokens with 24-bit background colours (blue positive,
 * red negative; white to blue for unsigned methods), or `token(score)` without colour.
 * Returns strings; the CLI decides where they go. Non-goals: layouts wider than one line per row.
 */
import { divColor, seqColor, showToken, textOn } from '../../report/html.js';
import type { AttributionResult, TokenRef } from './types.js';

/** Methods whose scores are never negative (coloured white to blue). */
export function unsignedMethod(method: string): boolean {
  return method === 'saliency' || method === 'smoothgrad' || method === 'vargrad';
}

function maxAbs(rows: readonly (readonly number[])[]): number {
  let m = 0;
  for (const r of rows) for (const v of r) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

function ansi(rgb: string, text: string): string {
  const n = /rgb\((\d+),(\d+),(\d+)\)/.exec(rgb)!;
  const fg = textOn(rgb) === '#fff' ? '255;255;255' : '0;0;0';
  return `\x1b[48;2;${n[1]};${n[2]};${n[3]}m\x1b[38;2;${fg}m${text}\x1b[0m`;
}

/** One line of tokens shaded by score (scale: the largest |score| given). */
export function shadeTokens(tokens: readonly TokenRef[], scores: readonly number[], o: { color: boolean; unsigned: boolean; scale?: number }): string {
  const scale = o.scale ?? maxAbs([scores]);
  return scores
    .map((s, i) => {
      const text = showToken(tokens[i]!.text);
      if (!o.color) return `${text}(${fmt(s)})`;
      return ansi(o.unsigned ? seqColor(s / scale) : divColor(s / scale), text);
    })
    .join(o.color ? '' : ' ');
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(2) : x.toFixed(4);
}

/** The shaded prompt (single target) or one shaded row per continuation token. */
export function renderAttribution(r: AttributionResult, color: boolean): string[] {
  const unsigned = unsignedMethod(r.method);
  if (r.kind === 'single') return [shadeTokens(r.tokens, r.scores, { color, unsigned })];
  const scale = maxAbs(r.scores);
  const w = Math.max(...r.target.texts.map((t) => showToken(t).length));
  return r.scores.map((row, g) => `${showToken(r.target.texts[g]!).padEnd(w)} <- ${shadeTokens(r.tokens.slice(0, row.length), row, { color, unsigned, scale })}`);
}
