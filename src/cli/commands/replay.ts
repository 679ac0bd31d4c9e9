/**
 * `llmdbg replay FILE`: re-run a recorded generation and report whether every step is identical.
 */
import { LlmdbgError } from '../../errors.js';
import { parse, str } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { printJson, printLine } from '../output.js';
import { readTrace } from '../../debugger/trace.js';
import { replayTrace } from '../../debugger/replay.js';
import type { Command } from './types.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: 're-run a recorded trace and check that every step is identical',
  usage: `llmdbg replay FILE [--model DIR] [--json]
  Uses the model folder recorded in the trace unless --model is given. Exit status 0 when every
  step is identical, 3 when the replay differs.`,
  async run(argv) {
    const { values: v, positionals } = parse(argv, {}, 'replay');
    if (positionals.length !== 1) throw new LlmdbgError('invalid_argument', 'replay: give exactly one trace FILE', { hint: 'llmdbg replay run.trace.jsonl' });
    const trace = readTrace(positionals[0]!);
    if (str(v, 'model') === undefined) v['model'] = trace.header.model.dir;
    const s = await openSession(v);
    const warnings: string[] = [];
    if (s.model.source.fingerprint !== trace.header.model.fingerprint) warnings.push(`model fingerprint ${s.model.source.fingerprint} differs from the recorded ${trace.header.model.fingerprint}`);
    if (s.backend.name !== trace.header.backend) warnings.push(`backend ${s.backend.name} differs from the recorded ${trace.header.backend}; results may differ in the last bits`);
    const report = await replayTrace(s.model, trace);
    if (v['json']) printJson({ ...report, warnings, info: runInfo(s, { trace: trace.path }) });
    else {
      for (const w of warnings) printLine(`warning: ${w}`);
      if (report.identical) printLine(`identical: all ${report.steps} steps match${report.recordedTruncated ? ' (the recorded trace was incomplete; its recorded steps were compared)' : ''}`);
      else printLine(`DIFFERENT at step ${report.firstMismatch!.step}: ${report.firstMismatch!.field} recorded ${JSON.stringify(report.firstMismatch!.recorded)}, replayed ${JSON.stringify(report.firstMismatch!.replayed)}`);
    }
    if (!report.identical) process.exitCode = 3;
  },
};
