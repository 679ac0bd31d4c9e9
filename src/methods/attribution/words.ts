/**
 * Token scores aggregated to words. Words come from the tokens' exact text pieces (their
 * concatenation is the decoded text): a piece that starts with whitespace or punctuation, or that
 * follows a punctuation piece, starts a new word; an empty piece joins the previous word; a
 * special-token piece (`<s>`, `<|endoftext|>`, `[CLS]`) is a word of its own.
 *
 * `sum` adds scores (dot-product methods, variances); `norm` combines L2 norms as the norm of the
 * word's stacked gradients, sqrt(sum of squares). Non-goals: linguistic word segmentation.
 * LIMITATION: occlusion word scores are sums of single-token occlusions, not the effect of
 * occluding the whole word.
 */
export interface WordSpan {
  text: string;
  start: number;
  end: number;
}

const BREAK = /^[\s\p{P}\p{S}]/u;
const PUNCT_ONLY = /^[\p{P}\p{S}]+$/u;
const SPECIAL = /^(<[^<>\s]+>|<\|[^|]+\|>|\[[A-Z]+\])$/;

export function wordSpans(pieces: readonly string[]): WordSpan[] {
  const out: WordSpan[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    const prev = out[out.length - 1];
    const prevPiece = i > 0 ? pieces[i - 1]! : '';
    const joins = prev !== undefined && !SPECIAL.test(p) && !SPECIAL.test(prevPiece) && (p.length === 0 || (!BREAK.test(p) && !PUNCT_ONLY.test(prevPiece) && !/\s$/.test(prevPiece)));
    if (joins) {
      prev.text += p;
      prev.end = i + 1;
    } else {
      out.push({ text: p, start: i, end: i + 1 });
    }
  }
  return out;
}

export function aggregateWords(spans: readonly WordSpan[], scores: readonly number[], how: 'sum' | 'norm', l2: boolean): { text: string; start: number; end: number; score: number }[] {
  return spans
    .filter((w) => w.start < scores.length)
    .map((w) => {
      let s = 0;
      const end = Math.min(w.end, scores.length);
      for (let i = w.start; i < end; i++) s += how === 'norm' && l2 ? scores[i]! * scores[i]! : scores[i]!;
      return { text: w.text, start: w.start, end, score: how === 'norm' && l2 ? Math.sqrt(s) : s };
    });
}
