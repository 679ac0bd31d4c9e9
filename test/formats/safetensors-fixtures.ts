/**
 * Helpers for the safetensors tests: a temp folder per test file, hand-built file images (prefix + header
 * text + data, with the header length computed or forced) and an assertion for typed `LlmdbgError`s.
 * Non-goals: being a safetensors writer (that is src/formats/safetensors-write.ts, tested separately).
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { LlmdbgError, type ErrorCode } from '../../src/errors.js';

/** A fresh temp folder, removed when the test file finishes. */
export function tempDir(prefix = 'llmdbg-st-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** 8-byte LE length + header bytes + data. `n` overrides the declared header length. */
export function image(header: string | Uint8Array, data: Uint8Array | number = 0, n?: bigint): Uint8Array {
  const h = typeof header === 'string' ? Buffer.from(header, 'utf8') : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.byteLength + d.byteLength);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(d, 8 + h.byteLength);
  return out;
}

/** JSON header text padded with spaces to a multiple of 8 (like the reference writer). */
export function padded(json: string): string {
  const len = Buffer.byteLength(json, 'utf8');
  return json + ' '.repeat((8 - (len % 8)) % 8);
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

export function writeTo(dir: string, name: string, bytes: Uint8Array | string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Asserts `fn` throws an `LlmdbgError` with `code` whose message matches every pattern given. */
export function throwsCode(fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]): LlmdbgError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected LlmdbgError(${code}) but nothing was thrown`);
  assert.ok(caught instanceof LlmdbgError, `expected LlmdbgError(${code}), got ${String(caught)}`);
  assert.equal(caught.code, code, `wrong code; message: ${caught.message}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}
