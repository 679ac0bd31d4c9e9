/**
 * `llmdbg gradients`: gradient norms of a loss (cross-entropy of a text) or a target at every hook
 * point and every parameter tensor, flagged where they vanish, explode or are not finite, with a
 * per-layer view of what drives the output.
 */
import { LlmdbgError } from '../../errors.js';
import { parse, parseIds, str, type Options } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import type { Model } from '../../model/model.js';
import { gradientReport, type GradientObjective } from '../../methods/gradients/report.js';
import { checkTokenId, singleToken } from '../../methods/attribution/objective.js';
import { fmt } from '../../methods/attribution/terminal.js';
import type { Command } from './types.js';

function inputIds(model: Model, v: Options): number[] {
  const given = ['text', 'prompt', 'ids'].filter((k) => str(v, k) !== undefined);
  if (given.length !== 1) throw new LlmdbgError('invalid_argument', given.length ? `give only one of ${given.map((g) => `--${g}`).join(', ')}` : 'no input: give --text TEXT or --ids 1,2,3');
  const ids = str(v, 'ids') !== undefined ? parseIds(str(v, 'ids')!) : model.encode(str(v, 'text') ?? str(v, 'prompt')!);
  model.checkIds(ids);
  return ids;
}

function tokenFlag(model: Model, v: Options, name: 'target' | 'foil'): number | undefined {
  const id = str(v, `${name}-id`);
  if (id !== undefined) {
    if (!/^\d+$/.test(id.trim())) throw new LlmdbgError('invalid_argument', `--${name}-id ${id} must be a token id`);
    checkTokenId(model, Number(id), `--${name}-id`);
    return Number(id);
  }
  const text = str(v, name);
  return text === undefined ? undefined : singleToken(model, text, `--${name}`);
}

export const gradientsCommand: Command = {
  name: 'gradients',
  summary: 'gradient norms at every hook point and parameter, flagged where they vanish, explode or are not finite',
  usage: `llmdbg gradients [--model DIR] (--text TEXT | --ids 1,2,3) [--target TEXT | --target-id N]
                 [--foil TEXT | --foil-id N] [--hooks PATTERN,...] [--no-params] [--all] [--json]
  The loss is the mean cross-entropy of the text's next-token predictions, or with --target the
  log-probability of the target at the last position (minus --foil's). Hook gradients come from
  zero probes added to each activation. Flags: nonfinite, zero, vanishing/exploding (RMS below
  1e-3x or above 1e3x the median of the same hook site or parameter across layers, or beyond
  1e-10 / 1e4). gradXAct = sum(grad * activation): removing that activation changes the objective
  by about -gradXAct. --all prints every hook and parameter (default: flagged ones and a summary).`,
  async run(argv) {
    const { values: v } = parse(argv, {
      text: { type: 'string' }, target: { type: 'string' }, 'target-id': { type: 'string' }, foil: { type: 'string' }, 'foil-id': { type: 'string' },
      hooks: { type: 'string' }, 'no-params': { type: 'boolean' }, all: { type: 'boolean' },
    }, 'gradients');
    const s = await openSession(v);
    const ids = inputIds(s.model, v);
    const target = tokenFlag(s.model, v, 'target');
    const foil = tokenFlag(s.model, v, 'foil');
    if (foil !== undefined && target === undefined) throw new LlmdbgError('invalid_argument', '--foil needs --target', { hint: 'give --target (or --target-id) as well' });
    const objective: GradientObjective = target === undefined ? { kind: 'cross-entropy' } : { kind: 'target', target, ...(foil !== undefined ? { foil } : {}) };
    const hooks = str(v, 'hooks')?.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
    const r = await gradientReport(s.model, { ids, objective, ...(hooks ? { hooks } : {}), params: !v['no-params'] });
    if (v['json']) {
      printJson({ ...r, info: { ...r.info, ...runInfo(s) } });
      return;
    }
    printLine(`objective: ${r.objective.description} = ${fmt(r.objective.value)}${r.globalNorm !== null ? `; global parameter-gradient norm ${fmt(r.globalNorm)}` : ''}`);
    printLine(r.flagged.length ? `${r.flagged.length} flagged:` : 'no flags: every gradient is finite, non-zero and within the thresholds');
    if (r.flagged.length) printLine(table(r.flagged.map((f) => [f.kind, f.name, f.flags.join(',')]), ['kind', 'name', 'flags']));
    printLine();
    printLine(table(r.layers.map((l) => [l.layer, l.residGradNorm === null ? '-' : fmt(l.residGradNorm), l.attnGradXAct === null ? '-' : fmt(l.attnGradXAct), l.mlpGradXAct === null ? '-' : fmt(l.mlpGradXAct)]),
      ['layer', '|grad| resid_pre', 'gradXAct attn_out', 'gradXAct mlp_out']));
    const hookRows = v['all'] ? r.hooks : r.hooks.filter((h) => h.flags.length || h.layer === null);
    if (hookRows.length) {
      printLine();
      printLine(table(hookRows.map((h) => [h.name, `[${h.shape.join(',')}]`, fmt(h.gradNorm), fmt(h.gradRms), fmt(h.gradXAct), h.flags.join(',')]), ['hook', 'shape', '|grad|', 'rms', 'gradXAct', 'flags']));
    }
    if (r.params.length) {
      const rows = v['all'] ? r.params : [...r.params].sort((a, b) => b.gradNorm - a.gradNorm).filter((p, i) => i < 10 || p.flags.length);
      printLine();
      printLine(table(rows.map((p) => [p.name, `[${p.shape.join(',')}]`, fmt(p.gradNorm), fmt(p.gradRms), fmt(p.relative), p.flags.join(',')]), ['parameter', 'shape', '|grad|', 'rms', '|grad|/|w|', 'flags']));
      if (!v['all'] && rows.length < r.params.length) note(`(${r.params.length - rows.length} more parameters; --all lists every one)`);
    }
    note(`${r.info.durationMs} ms, ${r.hooks.length} hook points, ${r.params.length} parameter tensors`);
  },
};
