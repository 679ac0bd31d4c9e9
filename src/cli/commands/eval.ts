/**
 * `llmdbg eval`: accuracy of a model on a JSON Lines suite of prompts and expected continuations.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { LlmdbgError } from '../../errors.js';
import { int, parse, str } from '../args.js';
import { openSession, runInfo } from '../context.js';
import { note, printJson, printLine, table } from '../output.js';
import { evaluateSuite, readSuite } from '../../methods/eval/suite.js';
import type { Command } from './types.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'accuracy on a JSON Lines suite of prompts with expected continuations',
  usage: `llmdbg eval [--model DIR] [--suite FILE] [--show N] [--json]
  Each line: {"prompt": TEXT, "expected": TEXT, "behaviour": NAME} (or "ids"/"expected_ids"), or
  {"behaviour": "induction", "ids": [...]} for a random sequence repeated twice (scored by the
  second occurrence's loss relative to the first). Without --suite, the model folder's
  eval-suite.jsonl is used when present (the bundled demo model has one).`,
  async run(argv) {
    const { values: v } = parse(argv, { suite: { type: 'string' }, show: { type: 'string' } }, 'eval');
    const s = await openSession(v);
    const suitePath = str(v, 'suite') ?? join(s.model.source.dir, 'eval-suite.jsonl');
    if (str(v, 'suite') === undefined && !existsSync(suitePath)) throw new LlmdbgError('invalid_argument', 'eval: give --suite FILE', { hint: 'a JSON Lines file of {"prompt", "expected"} objects' });
    const items = readSuite(suitePath);
    const t0 = performance.now();
    let last = 0;
    const r = await evaluateSuite(s.model, items, (done, total) => {
      if (v['json'] || !process.stderr.isTTY || performance.now() - last < 200) return;
      last = performance.now();
      process.stderr.write(`\r${done}/${total}`);
    });
    if (!v['json'] && process.stderr.isTTY) process.stderr.write('\r');
    const durationMs = Math.round(performance.now() - t0);
    if (v['json']) return printJson({ suite: suitePath, ...r, info: runInfo(s, { durationMs }) });
    const rows: (string | number)[][] = Object.entries(r.byBehaviour).map(([b, x]) => [b, x.n, x.correct, `${(100 * x.accuracy).toFixed(1)}%`]);
    rows.push(['all', r.n, r.correct, `${(100 * r.accuracy).toFixed(1)}%`]);
    printLine(table(rows, ['behaviour', 'items', 'correct', 'top-1']));
    if (r.induction) printLine(`induction: ${r.induction.n} sequences, loss first ${r.induction.firstLoss.toFixed(3)} -> repeat ${r.induction.secondLoss.toFixed(3)} nats (ratio ${(100 * r.induction.ratio).toFixed(1)}%)`);
    const show = int(v, 'show', 10, 0);
    if (r.failures.length > 0 && show > 0) {
      printLine();
      printLine(`failures (${r.failures.length}; first ${Math.min(show, r.failures.length)}):`);
      for (const f of r.failures.slice(0, show)) printLine(`  line ${f.line} [${f.behaviour}] ${JSON.stringify(f.prompt)} -> ${JSON.stringify(f.got)}, expected ${JSON.stringify(f.expected)} (p=${f.expectedProb.toFixed(3)}, rank ${f.expectedRank})`);
    }
    note(`${items.length} items in ${durationMs} ms`);
  },
};
