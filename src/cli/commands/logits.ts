/**
 * `llmdbg logits`: the model's logits for every position of a prompt.
 */
import { int, parse } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { printJson, printLine, table } from '../output.js';
import type { Command } from './types.js';

export const logitsCommand: Command = {
  name: 'logits',
  summary: 'logits for every position of a prompt (T rows of V)',
  usage: `llmdbg logits [--model DIR] (--prompt TEXT | --ids 1,2,3) [--top N] [--json]
  --json prints {ids, logits} with logits as T rows of V numbers; otherwise the top N
  next tokens per position.`,
  async run(argv) {
    const { values: v } = parse(argv, { top: { type: 'string' } }, 'logits');
    const s = await openSession(v);
    const ids = promptIds(s.model, v);
    const t0 = performance.now();
    const l = await s.model.logits(ids);
    const [T, V] = l.shape as [number, number];
    if (v['json']) {
      const rows: Float32Array[] = [];
      for (let t = 0; t < T; t++) rows.push(l.data.subarray(t * V, (t + 1) * V));
      printJson({ ids, logits: rows, shape: [T, V], info: runInfo(s, { durationMs: Math.round(performance.now() - t0) }) });
      return;
    }
    const top = int(v, 'top', 5, 1, V);
    const pieces = s.model.tokenPieces(ids);
    const out: (string | number)[][] = [];
    for (let t = 0; t < T; t++) {
      const row = l.data.subarray(t * V, (t + 1) * V);
      const best = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]! || a - b).slice(0, top);
      out.push([t, JSON.stringify(pieces[t]), best.map((id) => `${JSON.stringify(s.model.tokenPieces([id])[0])}(${id}) ${row[id]!.toFixed(3)}`).join('  ')]);
    }
    printLine(table(out, ['pos', 'token', `top ${top} next-token logits`]));
  },
};
