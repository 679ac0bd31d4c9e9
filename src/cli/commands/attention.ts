/**
 * `llmdbg attention`: attention patterns and head statistics for a prompt (entropy, maximum
 * weight, first-token attention, previous-token, duplicate-token and induction scores, the last
 * three also on seeded repeated random sequences), ranked per score; `--html` writes the picture
 * (grid of all heads, query x key heatmap, line view). `--spec` shows the patterns after an edit.
 */
import { readFileSync } from 'node:fs';
import { LlmdbgError } from '../../errors.js';
import { int, parse, str } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { printJson, printLine, table } from '../output.js';
import { attentionPatterns, headStats } from '../../methods/attention/heads.js';
import { validateSpec } from '../../methods/interventions/spec.js';
import { compileIntervention, type CompiledIntervention } from '../../methods/interventions/apply.js';
import { attentionReportHtml } from '../../report/attention-html.js';
import { writeHtml } from './patch.js';
import type { Command } from './types.js';

const SHOWN = ['prevToken', 'duplicate', 'induction', 'rep.prevToken', 'rep.duplicate', 'rep.induction', 'firstToken', 'entropy'];

export const attentionCommand: Command = {
  name: 'attention',
  summary: 'attention patterns and head scores (previous-token, duplicate, induction...), ranked; HTML picture',
  usage: `llmdbg attention [--model DIR] (--prompt TEXT | --ids 1,2,3) [--html FILE] [--layer L --head H]
                 [--top N] [--rep-len N] [--rep-batch N] [--seed S] [--spec FILE] [--patterns] [--json]
  Scores average over query positions >= 1. Repeated random sequences ([bos] + r + r, seeded)
  probe previous-token, duplicate and induction heads independently of the prompt.
  --html FILE writes the picture; --layer/--head select the head shown in detail (default L0H0).
  --spec FILE applies an intervention spec first. --patterns adds every pattern to --json output.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      html: { type: 'string' }, layer: { type: 'string' }, head: { type: 'string' }, top: { type: 'string' }, 'rep-len': { type: 'string' },
      'rep-batch': { type: 'string' }, seed: { type: 'string' }, spec: { type: 'string' }, patterns: { type: 'boolean' },
    }, 'attention');
    const s = await openSession(v);
    const c = s.model.config;
    const ids = promptIds(s.model, v);
    const layer = int(v, 'layer', 0, 0, c.nLayers - 1);
    const head = int(v, 'head', 0, 0, c.nHeads - 1);
    const top = int(v, 'top', 5, 1, 10_000);
    let iv: CompiledIntervention | null = null;
    const specPath = str(v, 'spec');
    if (specPath) {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(specPath, 'utf8'));
      } catch (e) {
        throw new LlmdbgError('invalid_spec', `--spec ${specPath}: ${(e as Error).message}`);
      }
      iv = await compileIntervention(s.model, validateSpec(raw, c), ids.length);
    }
    try {
      const hooks = iv ? { hooks: iv.hooks } : {};
      const patterns = await attentionPatterns(s.model, ids, hooks);
      const stats = await headStats(s.model, ids, {
        patterns, seed: int(v, 'seed', 0, 0, 2 ** 32 - 1), ...hooks,
        ...(str(v, 'rep-len') !== undefined ? { repLength: int(v, 'rep-len', 20, 2) } : {}),
        ...(str(v, 'rep-batch') !== undefined ? { repBatch: int(v, 'rep-batch', 4, 1, 1024) } : {}),
      });
      const html = str(v, 'html');
      if (html) writeHtml(html, attentionReportHtml({ title: `Attention: ${s.model.source.dir}`, patterns, stats, selected: { layer, head }, topHeads: top, ...(specPath ? { subtitle: `with intervention ${specPath}` } : {}) }), !!v['json']);
      if (v['json']) {
        return printJson({
          ...stats, html: html ?? null, spec: specPath ?? null,
          ...(v['patterns'] ? { patterns: { shape: [c.nLayers, c.nHeads, ids.length, ids.length], layers: patterns.layers } } : {}),
          run: runInfo(s),
        });
      }
      printLine(`${ids.length} tokens, ${c.nLayers} layers x ${c.nHeads} heads; repeated random sequences: ${stats.repeated.batch} x ${stats.repeated.length} (seed ${stats.repeated.seed})`);
      const cols = SHOWN.filter((k) => stats.rankings[k]);
      const rows: string[][] = [];
      for (let i = 0; i < top; i++) {
        rows.push([String(i + 1), ...cols.map((k) => {
          const r = stats.rankings[k]![i];
          return r ? `L${r.layer}H${r.head} ${r.value.toFixed(3)}` : '';
        })]);
      }
      printLine(table(rows, ['#', ...cols]));
    } finally {
      iv?.dispose();
    }
  },
};
