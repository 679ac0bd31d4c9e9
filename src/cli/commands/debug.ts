/**
 * `llmdbg debug`: the forward-pass debugger as a terminal REPL (readline: history kept in
 * ~/.llmdbg_history or $LLMDBG_HISTORY, Tab completion of commands and hook names), or a script of
 * the same commands (`--commands FILE`, or lines piped on stdin) for automation.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as readline from 'node:readline';
import { LlmdbgError } from '../../errors.js';
import { float, int, parse, str } from '../args.js';
import { openSession, promptIds, runInfo } from '../context.js';
import { note, printJson, printLine } from '../output.js';
import { DebugRepl, type ReplOutput } from '../../debugger/repl.js';
import type { Command } from './types.js';

const PROMPT = '(llmdbg) ';

function historyFile(): string {
  return process.env['LLMDBG_HISTORY'] ?? nodePath.join(os.homedir(), '.llmdbg_history');
}

function loadHistory(path: string): string[] {
  try {
    return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').slice(-1000).reverse();
  } catch {
    return [];
  }
}

function appendHistory(path: string, line: string): void {
  try {
    fs.appendFileSync(path, line.replace(/\n/g, ' ') + '\n');
  } catch {
    // history is a convenience: an unwritable file must not stop the debugger
  }
}

function show(out: ReplOutput): void {
  if (out.ok) {
    if (out.text) printLine(out.text);
  } else note(out.text);
}

async function interactive(repl: DebugRepl): Promise<void> {
  const hist = historyFile();
  const rl = readline.createInterface({
    input: process.stdin, output: process.stdout, prompt: PROMPT, terminal: true,
    history: loadHistory(hist), historySize: 1000, removeHistoryDuplicates: true,
    completer: (line: string) => repl.complete(line),
  });
  let busy = false;
  rl.on('SIGINT', () => {
    if (busy) return repl.interrupt(); // pauses the run at its next hook point
    process.stdout.write('^C (quit with `quit` or Ctrl-D)\n');
    rl.prompt();
  });
  printLine(`llmdbg debugger: ${repl.ids.length} prompt tokens, ${repl.model.hooks.length} hook points. \`help\` lists the commands, \`run\` starts.`);
  rl.prompt();
  for await (const line of rl) {
    if (line.trim() !== '') appendHistory(hist, line.trim());
    busy = true;
    const out = await repl.exec(line).finally(() => {
      busy = false;
    });
    show(out);
    if (out.quit) break;
    rl.prompt();
  }
  rl.close();
  repl.close();
}

export const debugCommand: Command = {
  name: 'debug',
  summary: 'pause a forward pass or generation at breakpoints; inspect, edit and step (REPL or --commands FILE)',
  usage: `llmdbg debug [--model DIR] (--prompt TEXT | --ids 1,2,3) [--max-new-tokens N] [--temperature T]
             [--top-k K] [--top-p P] [--seed S] [--break SPEC ...] [--watch HOOK ...]
             [--commands FILE] [--json]
  Without --commands the debugger reads commands from the terminal (or from stdin when piped).
  --max-new-tokens 0 (default) debugs one forward pass over the prompt; N > 0 debugs the prefill
  pass (step 0) and one pass per generated token (steps 1..N-1, KV cache).
  Commands: run, continue, step [N], next [layer|token], break, delete, print [SLICE], top, set,
  zero, scale, where, info hooks|breakpoints|watches|edits, watch, history, help, abort, quit.
  break [HOOK] [layer L] [pos P] [step S] [if nonfinite | abs > X | norm > X | entropy < X] [hits N]
  --json prints one object with every command's result after the last command.`,
  async run(argv) {
    const { values: v } = parse(argv, {
      'max-new-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
      seed: { type: 'string' }, commands: { type: 'string' }, break: { type: 'string', multiple: true }, watch: { type: 'string', multiple: true },
    }, 'debug');
    const maxNewTokens = int(v, 'max-new-tokens', 0, 0, 1_000_000);
    const opts = {
      maxNewTokens, seed: int(v, 'seed', 0, 0, 2 ** 32 - 1), stopAtEos: true,
      ...(float(v, 'temperature', undefined) !== undefined ? { temperature: float(v, 'temperature', 0)! } : {}),
      ...(str(v, 'top-k') !== undefined ? { topK: int(v, 'top-k', 0) } : {}),
      ...(str(v, 'top-p') !== undefined ? { topP: float(v, 'top-p', 1)! } : {}),
    };
    const file = str(v, 'commands');
    let script: string[] | null = null;
    if (file !== undefined) {
      try {
        script = fs.readFileSync(file, 'utf8').split(/\r?\n/);
      } catch (e) {
        throw new LlmdbgError('file_not_found', `--commands ${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { hint: 'give a text file with one debugger command per line' });
      }
    }
    const s = await openSession(v);
    const ids = promptIds(s.model, v, maxNewTokens);
    const repl = new DebugRepl(s.model, ids, opts);
    const pre = [...((v['break'] as string[] | undefined) ?? []).map((b) => `break ${b}`), ...((v['watch'] as string[] | undefined) ?? []).map((w) => `watch ${w}`)];
    const json = Boolean(v['json']);
    if (script === null && !json && process.stdin.isTTY) {
      for (const c of pre) show(await repl.exec(c));
      return interactive(repl);
    }
    if (script === null) script = fs.readFileSync(0, 'utf8').split(/\r?\n/);
    const transcript: { command: string; ok: boolean; text: string; data?: unknown; error?: unknown }[] = [];
    let failed = 0;
    for (const line of [...pre, ...script]) {
      if (line.trim() === '' || line.trim().startsWith('#')) continue;
      const out = await repl.exec(line);
      if (!out.ok) failed++;
      transcript.push({ command: line.trim(), ok: out.ok, text: out.text, ...(out.data !== undefined ? { data: out.data } : {}), ...(out.error ? { error: out.error } : {}) });
      if (!json) {
        printLine(PROMPT + line.trim());
        show(out);
      }
      if (out.quit) break;
    }
    const status = repl.run?.status ?? 'none';
    const result = repl.run?.status === 'finished' ? repl.run.result() : null;
    repl.close();
    if (json) printJson({ commands: transcript, failed, status, result, info: runInfo(s, { method: 'debug', ids, maxNewTokens }) });
    if (failed > 0) process.exitCode = 1;
  },
};
