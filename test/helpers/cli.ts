/**
 * Runs the CLI as a user would (a separate process) from the TypeScript sources, capturing
 * stdout, stderr and the exit status.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './fixtures.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'bin.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, LLMDBG_BACKEND: process.env['LLMDBG_TEST_BACKEND'] ?? 'wasm', ...env },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs with --json and returns the single JSON object printed on stdout (asserting there is exactly one). */
export function cliJson(args: string[]): Record<string, unknown> {
  const r = cli([...args, '--json']);
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout must hold exactly one JSON line');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

/** Asserts a failing run: non-zero exit, one `error[code]:` line on stderr, no stack trace. */
export function cliFails(args: string[], code: string, re?: RegExp): void {
  const r = cli(args);
  assert.notEqual(r.status, 0, 'must exit non-zero');
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('note:'));
  assert.equal(lines.length, 1, `stderr must be one line, got: ${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^error\\[${code}\\]: `));
  if (re) assert.match(lines[0]!, re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
