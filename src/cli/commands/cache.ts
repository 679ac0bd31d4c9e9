/**
 * `llmdbg cache`: the activations at chosen hook points for a prompt.
 */
import { LlmdbgError } from '../../errors.js';
import { parse } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { printJson, printLine, table } from '../output.js';
import type { Command } from './types.js';

export const cacheCommand: Command = {
  name: 'cache',
  summary: 'activations at chosen hook points ({tensors: {NAME: {shape, data}}})',
  usage: `llmdbg cache [--model DIR] (--prompt TEXT | --ids 1,2,3) --hook NAME [--hook NAME ...] [--json]
  NAME is a hook point (\`llmdbg inspect\` lists them) or a pattern such as 'blocks.*.hook_resid_post'.
  --json prints {tensors: {NAME: {shape, data}}} with data flat in row-major order, shape
  including the batch; otherwise a summary per tensor.`,
  async run(argv) {
    const { values: v } = parse(argv, { hook: { type: 'string', multiple: true } }, 'cache');
    const hooks = (v['hook'] as string[] | undefined) ?? [];
    if (hooks.length === 0) throw new LlmdbgError('invalid_argument', 'cache: give at least one --hook NAME', { hint: '`llmdbg inspect` lists the hook points' });
    const s = await openSession(v);
    const ids = promptIds(s.model, v);
    const t0 = performance.now();
    const r = await s.model.runWithCache(ids, hooks, { logits: 'none' });
    if (v['json']) {
      printJson({ ids, tensors: r.cache, info: runInfo(s, { durationMs: Math.round(performance.now() - t0) }) });
      return;
    }
    const rows = Object.entries(r.cache).map(([name, t]) => {
      let min = Infinity, max = -Infinity, sum = 0;
      for (const x of t.data) {
        min = Math.min(min, x);
        max = Math.max(max, x);
        sum += x;
      }
      return [name, `[${t.shape.join(', ')}]`, min.toPrecision(4), max.toPrecision(4), (sum / t.data.length).toPrecision(4)];
    });
    printLine(table(rows, ['hook', 'shape', 'min', 'max', 'mean']));
    printLine('(use --json for the values)');
  },
};
