/**
 * `llmdbg inspect`: what a model folder holds: architecture, sizes, dtype, hook points.
 */
import { parse } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { printJson, printLine, table } from '../output.js';
import { hookShape, SITES } from '../../model/hooks.js';
import type { Command } from './types.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'architecture, parameter count, dtype and hook points of a model',
  usage: `llmdbg inspect [--model DIR] [--json]`,
  async run(argv) {
    const { values: v } = parse(argv, {}, 'inspect');
    const s = await openSession(v);
    const c = s.model.config;
    const { raw: _raw, ...config } = c;
    const hooks = s.model.hooks.map((h) => ({ name: h.name, dims: h.dims, doc: SITES[h.site].doc }));
    const summary = {
      architecture: c.arch,
      parameters: s.model.nParams,
      weightsDtype: s.model.source.weightsDtype,
      computeDtype: 'float32',
      tokenizer: s.model.tokenizer ? s.model.tokenizer.source : null,
      config,
      hooks,
      info: runInfo(s, { loadMs: Math.round(s.loadMs) }),
    };
    if (v['json']) return printJson(summary);
    printLine(`${s.model.source.dir}: ${c.arch}, ${(s.model.nParams / 1e6).toFixed(3)}M parameters, weights ${summary.weightsDtype} (computed in float32)`);
    printLine(`layers ${c.nLayers}, d_model ${c.dModel}, heads ${c.nHeads} (kv ${c.nKvHeads}), d_head ${c.dHead}, d_mlp ${c.dMlp}, vocab ${c.vocabSize}, context ${c.nCtx}`);
    printLine(`${c.norm} eps ${c.normEps}, activation ${c.act}${c.gatedMlp ? ' (gated)' : ''}, positions ${c.positional}${c.positional === 'rotary' ? ` theta ${c.ropeTheta}` : ''}, tied embeddings ${c.tieEmbeddings}`);
    printLine(`tokenizer: ${summary.tokenizer ?? 'none (use --ids)'}; backend ${s.backend.name}; loaded in ${s.loadMs.toFixed(0)} ms`);
    printLine();
    const perLayer = s.model.hooks.filter((h) => h.layer === 0 || h.layer === null);
    printLine(table(perLayer.map((h) => [h.layer === 0 ? h.name.replace(/^blocks\.0\./, 'blocks.{L}.') : h.name, `[${h.dims.join(', ')}]`, `[${hookShape(c, h.site, 1, 8).join(', ')}]`, SITES[h.site].doc]), ['hook point', 'dims', 'shape for 8 tokens', 'meaning']));
    printLine(`(${s.model.hooks.length} hook points in all; L = 0..${c.nLayers - 1})`);
  },
};
