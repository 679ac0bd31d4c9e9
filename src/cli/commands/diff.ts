/**
 * `llmdbg diff A B`: where two generation traces part, and how far apart they are per step.
 */
import { LlmdbgError } from '../../errors.js';
import { parse } from '../args.js';
import { printJson, printLine, table } from '../output.js';
import { readTrace } from '../../debugger/trace.js';
import { diffTraces } from '../../debugger/replay.js';
import type { Command } from './types.js';

export const diffCommand: Command = {
  name: 'diff',
  summary: 'first step where two traces part, and the divergence per step',
  usage: `llmdbg diff A B [--json]
  Divergence per step is KL(A||B) over the union of both traces' recorded top candidates (the
  rest of the vocabulary lumped into one bucket), plus the change in the chosen token's log-prob.`,
  async run(argv) {
    const { values: v, positionals } = parse(argv, {}, 'diff');
    if (positionals.length !== 2) throw new LlmdbgError('invalid_argument', 'diff: give two trace files', { hint: 'llmdbg diff a.jsonl b.jsonl' });
    const a = readTrace(positionals[0]!);
    const b = readTrace(positionals[1]!);
    const d = diffTraces(a, b);
    if (v['json']) return printJson({ a: a.path, b: b.path, ...d });
    printLine(`model ${d.sameModel ? 'same' : 'DIFFERENT'}, prompt ${d.samePrompt ? 'same' : 'DIFFERENT'}, options ${d.sameOptions ? 'same' : 'DIFFERENT'}`);
    printLine(d.firstDivergence === null ? `the chosen tokens never differ (${d.stepsA} and ${d.stepsB} steps)` : `first divergence at step ${d.firstDivergence}`);
    printLine(table(d.perStep.map((s) => [s.step, s.idA ?? '-', s.idB ?? '-', s.kl === null ? '-' : s.kl.toExponential(2), s.logprobDelta === null ? '-' : s.logprobDelta.toExponential(2)]), ['step', 'id A', 'id B', 'KL(A||B)', '|dlogp|']));
  },
};
