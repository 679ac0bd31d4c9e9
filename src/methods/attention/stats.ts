/**
 * Per-head statistics of attention patterns, as pure functions of host data: entropy, maximum
 * weight, attention to the first token, and the scores that find previous-token, duplicate-token
 * and induction heads. Every score averages over the query positions where it is defined
 * (queries >= 1; for duplicate and induction, queries whose token occurred before).
 * Non-goals: running the model (heads.ts) and pictures (report/attention-html.ts).
 */

export const HEAD_SCORES = ['entropy', 'maxWeight', 'firstToken', 'prevToken', 'duplicate', 'induction'] as const;
export type HeadScore = (typeof HEAD_SCORES)[number];

/** Scores of one head; null when no query position qualifies. */
export type HeadScores = Record<HeadScore, number | null>;

/**
 * Scores of every head of one layer. `pattern` is [H, T, T] row-major (query rows, key columns),
 * `ids` the T token ids of the row.
 *  - entropy: mean over queries of -sum_k p log p (nats)
 *  - maxWeight: mean over queries of max_k p
 *  - firstToken: mean over queries of p[q, 0]
 *  - prevToken: mean over queries of p[q, q-1]
 *  - duplicate: mean over queries with an earlier copy of their token of sum_{k<q, id_k = id_q} p[q, k]
 *  - induction: mean over queries with an earlier copy of their token of sum_{0<k<=q, id_{k-1} = id_q} p[q, k]
 *    (attention to the token that followed the earlier copy)
 */
export function layerHeadScores(pattern: ArrayLike<number>, ids: readonly number[], H: number): HeadScores[] {
  const T = ids.length;
  const out: HeadScores[] = [];
  for (let h = 0; h < H; h++) {
    let ent = 0, mx = 0, first = 0, prev = 0, n = 0;
    let dup = 0, nDup = 0, ind = 0, nInd = 0;
    for (let q = 1; q < T; q++) {
      const row = (h * T + q) * T;
      let e = 0, m = 0, d = 0, hasDup = false, i = 0, hasInd = false;
      for (let k = 0; k <= q; k++) {
        const p = pattern[row + k]!;
        if (p > 0) e -= p * Math.log(p);
        if (p > m) m = p;
        if (k < q && ids[k] === ids[q]) { d += p; hasDup = true; }
        if (k > 0 && ids[k - 1] === ids[q]) { i += p; hasInd = true; }
      }
      ent += e; mx += m; first += pattern[row]!; prev += pattern[row + q - 1]!; n++;
      if (hasDup) { dup += d; nDup++; }
      if (hasInd) { ind += i; nInd++; }
    }
    out.push({
      entropy: n ? ent / n : null, maxWeight: n ? mx / n : null, firstToken: n ? first / n : null, prevToken: n ? prev / n : null,
      duplicate: nDup ? dup / nDup : null, induction: nInd ? ind / nInd : null,
    });
  }
  return out;
}

/** Averages per-row scores (e.g. over a batch of sequences), ignoring nulls. */
export function meanScores(rows: readonly HeadScores[]): HeadScores {
  const out = {} as HeadScores;
  for (const s of HEAD_SCORES) {
    const xs = rows.map((r) => r[s]).filter((x): x is number => x !== null);
    out[s] = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  }
  return out;
}

export interface RankedHead {
  layer: number;
  head: number;
  value: number;
}

/** Heads sorted by a score, highest first (ties by layer, head); heads without a value are left out. */
export function rankHeads(scores: readonly (readonly HeadScores[])[], score: HeadScore): RankedHead[] {
  const out: RankedHead[] = [];
  scores.forEach((layer, l) => layer.forEach((s, h) => {
    const v = s[score];
    if (v !== null) out.push({ layer: l, head: h, value: v });
  }));
  return out.sort((a, b) => b.value - a.value || a.layer - b.layer || a.head - b.head);
}
