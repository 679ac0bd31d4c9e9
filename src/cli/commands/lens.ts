/**
 * `llmdbg lens`: logit lens (top tokens of every layer's residual stream through the final norm
 * and unembedding, the target's rank and probability across layers) and direct logit attribution
 * (each head's and MLP's direct contribution to the target's logit).
 */
import { int, parse } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { printJson, printLine, table } from '../output.js';
import { logitLens } from '../../methods/lens/logit-lens.js';
import { directLogitAttribution } from '../../methods/lens/dla.js';
import { tokenArg } from './patch.js';
import type { Command } from './types.js';

export const lensCommand: Command = {
  name: 'lens',
  summary: 'logit lens per layer and position, and direct logit attribution of every head and MLP',
  usage: `llmdbg lens [--model DIR] (--prompt TEXT | --ids 1,2,3) [--top K] [--target TOKEN] [--foil TOKEN]
            [--position P] [--json]
  Stages: the residual stream entering each layer and leaving the last one (the last stage is the
  model's output). The target defaults to the model's top token at the last position. Attribution
  is at --position (default last), with the final norm's scale frozen; parts sum to the logit
  (or to logit(target) - logit(foil)).`,
  async run(argv) {
    const { values: v } = parse(argv, { top: { type: 'string' }, target: { type: 'string' }, foil: { type: 'string' }, position: { type: 'string' } }, 'lens');
    const s = await openSession(v);
    const ids = promptIds(s.model, v);
    const target = tokenArg(s.model, v, 'target');
    const foil = tokenArg(s.model, v, 'foil');
    const position = int(v, 'position', ids.length - 1, 0, ids.length - 1);
    const lens = await logitLens(s.model, ids, { topK: int(v, 'top', 5, 1, 100), ...(target !== undefined ? { target } : {}) });
    const dla = await directLogitAttribution(s.model, ids, { target: target ?? lens.target.id, position, ...(foil !== undefined ? { foil } : {}) });
    if (v['json']) return printJson({ lens, dla, run: runInfo(s) });
    printLine(`logit lens: top token per stage (rows) and position (columns); target ${JSON.stringify(lens.target.token)} (${lens.target.id})`);
    printLine(table(lens.stages.map((st, i) => [st.label, ...lens.top[i]!.map((row) => `${JSON.stringify(row[0]!.token)} ${row[0]!.prob.toFixed(2)}`), `${lens.target.rank[i]![position]} / ${lens.target.prob[i]![position]!.toFixed(4)}`]),
      ['stage', ...lens.tokens.map((t, j) => `${j}:${JSON.stringify(t)}`), `target rank/p @${position}`]));
    printLine();
    const parts = [
      ...dla.heads.flatMap((hs, l) => hs.map((x, h) => [`L${l}H${h}`, x] as [string, number])),
      ...dla.mlps.map((x, l) => [`MLP${l}`, x] as [string, number]),
      ...dla.attnBias.map((x, l) => [`attn bias ${l}`, x] as [string, number]).filter(([, x]) => x !== 0),
      ['embed', dla.embed] as [string, number], ...(s.model.config.positional === 'learned' ? [['pos embed', dla.posEmbed] as [string, number]] : []),
      ['norm/unembed bias', dla.constant] as [string, number],
    ].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    printLine(`direct logit attribution at position ${dla.position} to ${JSON.stringify(dla.target.token)}${dla.foil ? ` - ${JSON.stringify(dla.foil.token)}` : ''}: total ${dla.logit.toFixed(4)} (parts sum ${dla.sum.toFixed(4)})`);
    printLine(table(parts.slice(0, 15).map(([n, x]) => [n, x.toFixed(4)]), ['component', 'direct effect']));
  },
};
