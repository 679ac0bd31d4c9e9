/**
 * HTML fragment for generated text: the prompt, then each generated token shaded by the
 * probability the model gave it, with the top alternatives on hover.
 */
import { escapeHtml, seqColor, showToken, textOn } from './html.js';

export interface GeneratedToken {
  text: string;
  prob: number;
  top: { text: string; prob: number }[];
}

export function generationHtml(prompt: string, tokens: GeneratedToken[]): string {
  const spans = tokens.map((t) => {
    const bg = seqColor(t.prob);
    const title = t.top.map((c) => `${showToken(c.text)}  ${c.prob.toFixed(3)}`).join('\n');
    return `<span class="tok" style="background:${bg};color:${textOn(bg)}" title="p=${t.prob.toFixed(4)}&#10;${escapeHtml(title)}">${escapeHtml(t.text)}</span>`;
  });
  return `<div class="gen"><span class="prompt">${escapeHtml(prompt)}</span>${spans.join('')}</div>`;
}

export const GENERATION_CSS = `.gen { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; line-height: 1.9; }
.gen .prompt { color: #555; border-bottom: 2px solid #ccd; }`;
