/**
 * `llmdbg patch`: activation patching of a clean and a corrupted prompt of equal length (residual
 * stream, attention and MLP outputs per layer and position, attention output per head), as a
 * table, JSON or an HTML heatmap. Also exports the small argument readers that the attention
 * commands share (token, integer lists, HTML output).
 */
import { LlmdbgError } from '../../errors.js';
import { writeFileAtomicSync } from '../../util/atomic-write.js';
import { int, parse, parseIds, str, type Options } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import type { Model } from '../../model/model.js';
import { activationPatching, PATCH_KINDS, type PatchKind, type PatchingResult } from '../../methods/patching/activation.js';
import { patchingReportHtml } from '../../report/patching-html.js';
import type { Command } from './types.js';

/** A token given as an integer id or as text that encodes to exactly one token. */
export function tokenArg(model: Model, v: Options, name: string): number | undefined {
  const s = str(v, name);
  if (s === undefined) return undefined;
  if (/^\d+$/.test(s.trim())) {
    const id = Number(s);
    if (id >= model.config.vocabSize) throw new LlmdbgError('token_out_of_range', `--${name} ${id} is outside the vocabulary [0, ${model.config.vocabSize})`);
    return id;
  }
  const ids = model.encode(s, { addSpecialTokens: false });
  if (ids.length !== 1) throw new LlmdbgError('invalid_argument', `--${name} "${s}" is ${ids.length} tokens, not one`, { hint: `give a single token (text or id); its pieces are ${JSON.stringify(model.tokenPieces(ids))}` });
  return ids[0]!;
}

/** `1,2,5` -> [1, 2, 5]; undefined when absent. */
export function intListArg(v: Options, name: string): number[] | undefined {
  const s = str(v, name);
  if (s === undefined) return undefined;
  const parts = s.split(/[\s,]+/).filter((x) => x.length > 0);
  if (parts.length === 0) throw new LlmdbgError('invalid_argument', `--${name} is empty`);
  return parts.map((p) => {
    if (!/^-?\d+$/.test(p)) throw new LlmdbgError('invalid_argument', `--${name}: "${p}" is not an integer`, { hint: `e.g. --${name} 0,1,2` });
    return Number(p);
  });
}

export function writeHtml(path: string, html: string, quiet: boolean): void {
  writeFileAtomicSync(path, html);
  if (!quiet) note(`wrote ${path}`);
}

/** The corrupted prompt: --corrupt TEXT or --corrupt-ids 1,2,3. */
function corruptIds(model: Model, v: Options): number[] {
  const text = str(v, 'corrupt');
  const ids = str(v, 'corrupt-ids');
  if ((text === undefined) === (ids === undefined)) throw new LlmdbgError('invalid_argument', 'give exactly one of --corrupt TEXT and --corrupt-ids 1,2,3');
  const out = text !== undefined ? model.encode(text) : parseIds(ids!);
  model.checkIds(out);
  return out;
}

export function fmtShare(x: number | null): string {
  return x === null ? 'n/a' : `${Math.round(x * 100) + 0}%`;
}

export const patchCommand: Command = {
  name: 'patch',
  summary: 'activation patching: how much of a clean-vs-corrupted logit difference each layer/position/head restores',
  usage: `llmdbg patch [--model DIR] (--prompt TEXT | --ids 1,2,3) (--corrupt TEXT | --corrupt-ids 1,2,3)
             [--kind resid_pre,attn_out,mlp_out,...] [--target TOKEN] [--foil TOKEN] [--layers 0,1]
             [--positions 0,3] [--batch N] [--no-reuse] [--html FILE] [--json]
  --prompt/--ids is the clean prompt; both prompts must have the same number of tokens.
  Kinds: ${Object.keys(PATCH_KINDS).join(', ')} (head = hook_z of one head at every position,
  head_pos = one head at one position). Default resid_pre.
  Metric: logit(target) - logit(foil) at the last position; target defaults to the clean top token,
  foil to the corrupted top token. Cells show the share of the clean-corrupted gap recovered.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      corrupt: { type: 'string' }, 'corrupt-ids': { type: 'string' }, kind: { type: 'string' }, target: { type: 'string' }, foil: { type: 'string' },
      layers: { type: 'string' }, positions: { type: 'string' }, batch: { type: 'string' }, 'no-reuse': { type: 'boolean' }, html: { type: 'string' },
    }, 'patch');
    const kinds = (str(v, 'kind') ?? 'resid_pre').split(',').map((k) => k.trim()).filter(Boolean);
    for (const k of kinds) if (!(k in PATCH_KINDS)) throw new LlmdbgError('invalid_argument', `--kind ${k} is not a patching kind`, { hint: `choose from ${Object.keys(PATCH_KINDS).join(', ')}` });
    const s = await openSession(v);
    const clean = promptIds(s.model, v);
    const corrupt = corruptIds(s.model, v);
    const target = tokenArg(s.model, v, 'target');
    const foil = tokenArg(s.model, v, 'foil');
    const layers = intListArg(v, 'layers');
    const positions = intListArg(v, 'positions');
    const maxBatch = int(v, 'batch', 16, 1, 4096);
    const results: PatchingResult[] = [];
    for (const kind of kinds as PatchKind[]) {
      results.push(await activationPatching(s.model, clean, corrupt, {
        kind, maxBatch, reuse: !v['no-reuse'],
        ...(target !== undefined ? { target } : {}), ...(foil !== undefined ? { foil } : {}),
        ...(layers ? { layers } : {}), ...(positions ? { positions } : {}),
        ...(v['json'] ? {} : { onProgress: (d: number, t: number) => { if (d === t || d % 64 === 0) note(`${kind}: ${d}/${t} runs`); } }),
      }));
    }
    const html = str(v, 'html');
    if (html) {
      const r0 = results[0]!;
      writeHtml(html, patchingReportHtml(`Activation patching: ${JSON.stringify(r0.metric.target.token)} vs ${JSON.stringify(r0.metric.foil?.token ?? null)}`, results.map((r) => ({
        title: `${r.kind} (${r.site})`, metric: 'logit difference', rows: r.rows, cols: r.cols,
        ...(r.colAxis === 'pos' ? { colTokens: r.cols.map((c) => r.tokens.clean[Number(c)]!), colTokensAlt: r.cols.map((c) => r.tokens.corrupt[Number(c)]!) } : {}),
        values: r.values, recovered: r.recovered,
        note: `clean ${r.metric.clean.toFixed(3)}, corrupted ${r.metric.corrupt.toFixed(3)}; ${r.info.runs} runs in ${r.info.durationMs} ms`,
      })), `${s.model.source.dir}`), !!v['json']);
    }
    if (v['json']) return printJson({ clean, corrupt, results, html: html ?? null, info: runInfo(s, { method: 'activation_patching', kinds }) });
    for (const r of results) {
      printLine(`${r.kind} (${r.site}): logit diff ${JSON.stringify(r.metric.target.token)} - ${JSON.stringify(r.metric.foil?.token ?? null)}: clean ${r.metric.clean.toFixed(3)}, corrupted ${r.metric.corrupt.toFixed(3)}; recovered share per cell (${r.info.runs} runs, ${r.info.durationMs} ms)`);
      printLine(table(r.rows.map((row, i) => [row, ...r.recovered[i]!.map(fmtShare)]), ['', ...r.cols.map((c) => (r.colAxis === 'pos' ? `${c}:${r.tokens.clean[Number(c)]}` : c))]));
      printLine();
    }
  },
};
