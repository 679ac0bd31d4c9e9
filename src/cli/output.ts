/**
 * Everything the CLI prints goes through here: one JSON object for `--json`, human text
 * otherwise, and errors as one line on stderr. Non-finite numbers become the strings "NaN",
 * "Infinity" and "-Infinity" in JSON (plain JSON cannot hold them); typed arrays become arrays.
 */
import { LlmdbgError } from '../errors.js';

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : String(x)));
  return value;
}

export function toJson(obj: unknown): string {
  return JSON.stringify(obj, replacer);
}

export function printJson(obj: unknown): void {
  process.stdout.write(toJson(obj) + '\n');
}

export function printLine(s = ''): void {
  process.stdout.write(s + '\n');
}

/** Progress and notes go to stderr so stdout stays clean for results. */
export function note(s: string): void {
  process.stderr.write(s + '\n');
}

export function errorLine(e: unknown): string {
  if (e instanceof LlmdbgError) return e.oneLine();
  const err = e as Error;
  return `error[internal]: ${err?.message ?? String(e)} (this is a bug in llmdbg; please report it with the command you ran)`;
}

/** A fixed-width table for the terminal. */
export function table(rows: (string | number)[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const widths = all[0]!.map((_, j) => Math.max(...all.map((r) => String(r[j] ?? '').length)));
  const fmt = (r: (string | number)[]) => r.map((c, j) => (typeof c === 'number' ? String(c).padStart(widths[j]!) : String(c).padEnd(widths[j]!))).join('  ').trimEnd();
  const lines = all.map(fmt);
  if (header) lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}
