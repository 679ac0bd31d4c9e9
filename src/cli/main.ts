/**
 * The `llmdbg` command line: dispatches to a command, prints help, and turns every error into
 * one line on stderr (`error[code]: message (hint)`) with a non-zero exit status.
 * The CLI is the only part of llmdbg that prints.
 */
import { LlmdbgError, closest } from '../errors.js';
import { COMMANDS } from './commands/index.js';
import { errorLine, printLine } from './output.js';

const VERSION = '0.1.0';

function help(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `llmdbg ${VERSION}: a debugger for transformer language models`,
    '',
    'usage: llmdbg <command> [options]',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'common options: --model DIR (Hugging Face folder), --prompt TEXT | --ids 1,2,3, --json,',
    '                --backend auto|native|wasm|cpu (or LLMDBG_BACKEND), --threads N',
    '`llmdbg <command> --help` shows a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      printLine(help());
      return 0;
    }
    if (name === '--version' || name === 'version') {
      printLine(VERSION);
      return 0;
    }
    const cmd = COMMANDS.find((c) => c.name === name);
    if (!cmd) {
      throw new LlmdbgError('invalid_argument', `unknown command "${name}"; closest: ${closest(name, COMMANDS.map((c) => c.name), 2).join(', ')}`, { hint: 'run `llmdbg help` for the list' });
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      printLine(cmd.usage);
      return 0;
    }
    await cmd.run(rest);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    process.stderr.write(errorLine(e) + '\n');
    if (!(e instanceof LlmdbgError) && process.env['LLMDBG_DEBUG']) process.stderr.write(String((e as Error).stack) + '\n');
    return e instanceof LlmdbgError && e.code === 'invalid_argument' ? 2 : 1;
  }
}
