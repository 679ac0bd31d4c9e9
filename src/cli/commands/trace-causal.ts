/**
 * `llmdbg trace-causal`: causal tracing (ROME): noise the token embeddings of chosen positions with
 * seeded Gaussian noise, restore one clean state (layer x position) at a time, and report how much
 * of the target token's probability each restoration brings back; table, JSON or HTML heatmap.
 */
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, str } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { causalTrace, TRACE_SITES, type TraceSite } from '../../methods/patching/causal-trace.js';
import { patchingReportHtml } from '../../report/patching-html.js';
import { fmtShare, intListArg, tokenArg, writeHtml } from './patch.js';
import type { Command } from './types.js';

export const traceCausalCommand: Command = {
  name: 'trace-causal',
  summary: 'causal tracing: noise input positions, restore states one by one, see where the answer comes back',
  usage: `llmdbg trace-causal [--model DIR] (--prompt TEXT | --ids 1,2,3) --noise-positions 1,2
             [--site resid_pre|resid_mid|resid_post|attn_out|mlp_out] [--samples N] [--seed S]
             [--noise-scale X] [--target TOKEN] [--layers 0,1] [--batch N] [--html FILE] [--json]
  Noise: Gaussian, standard deviation --noise-scale (default 3 x the std of the token-embedding
  matrix), added to the token embeddings at --noise-positions; --samples draws are averaged
  (default 3) from the seeded generator (--seed, default 0). Cells: p(target) with that state restored.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      'noise-positions': { type: 'string' }, site: { type: 'string' }, samples: { type: 'string' }, seed: { type: 'string' },
      'noise-scale': { type: 'string' }, target: { type: 'string' }, layers: { type: 'string' }, batch: { type: 'string' }, html: { type: 'string' },
    }, 'trace-causal');
    const site = (str(v, 'site') ?? 'resid_pre') as TraceSite;
    if (!(site in TRACE_SITES)) throw new LlmdbgError('invalid_argument', `--site ${site} is not a traceable site`, { hint: `choose from ${Object.keys(TRACE_SITES).join(', ')}` });
    const noisePositions = intListArg(v, 'noise-positions');
    if (!noisePositions) throw new LlmdbgError('invalid_argument', 'trace-causal: give --noise-positions (e.g. the subject tokens: --noise-positions 1,2)');
    const s = await openSession(v);
    const ids = promptIds(s.model, v);
    const target = tokenArg(s.model, v, 'target');
    const layers = intListArg(v, 'layers');
    const scale = float(v, 'noise-scale', undefined);
    const r = await causalTrace(s.model, ids, {
      noisePositions, site, samples: int(v, 'samples', 3, 1, 1000), seed: int(v, 'seed', 0, 0, 2 ** 32 - 1), maxBatch: int(v, 'batch', 16, 1, 4096),
      ...(scale !== undefined ? { noiseScale: scale } : {}), ...(target !== undefined ? { target } : {}), ...(layers ? { layers } : {}),
      ...(v['json'] ? {} : { onProgress: (d: number, t: number) => { if (d === t || d % 64 === 0) note(`${d}/${t} runs`); } }),
    });
    const html = str(v, 'html');
    if (html) {
      const marked = r.tokens.map((t, p) => (noisePositions.includes(p) ? `${t}*` : t));
      writeHtml(html, patchingReportHtml(`Causal trace: p(${JSON.stringify(r.target.token)})`, [{
        title: `restore ${r.site}`, metric: 'p(target)', rows: r.rows, cols: r.cols, colTokens: marked, values: r.values, recovered: r.recovered,
        note: `clean p = ${r.clean.toFixed(4)}, noised p = ${r.noisy.toFixed(4)} (mean of ${r.info.samples} draws, scale ${r.info.noiseScale?.toFixed(4) ?? 'given'}); * = noised position`,
      }], s.model.source.dir), !!v['json']);
    }
    if (v['json']) return printJson({ ids, ...r, html: html ?? null, run: runInfo(s) });
    printLine(`target ${JSON.stringify(r.target.token)} (${r.target.id}): clean p = ${r.clean.toFixed(4)}, noised p = ${r.noisy.toFixed(4)}; share recovered by restoring ${r.site} (${r.info.runs} runs, ${r.info.durationMs} ms)`);
    printLine(table(r.rows.map((row, i) => [row, ...r.recovered[i]!.map(fmtShare)]), ['', ...r.cols.map((c, j) => `${c}:${r.tokens[j]}${noisePositions.includes(j) ? '*' : ''}`)]));
  },
};
