/**
 * Validation of a safetensors header, checks S1-S13 of RELIABILITY.md §1.1 in the reference order:
 * length prefix (S1-S3), UTF-8 (S4), starts with `{` (S6), strict JSON + schema (S5, S7, S13, S11 for
 * single numbers), then offsets sorted and checked for contiguity (S8, S9), overflow (S11), size (S10)
 * and the end of the buffer against the file size (S12). Pure: works on bytes, does no I/O.
 * Non-goals: reading tensor data, detecting pickles (see unsafe-formats.ts).
 * LIMITATION: a header near the 100 MB cap is still parsed in full (seconds of CPU), as in the reference.
 */

import { LlmdbgError, closest, type ErrorCode } from '../errors.js';
import { DTYPES, DTYPE_SIZE, UNSUPPORTED_DTYPES, isDtype, type Dtype } from './safetensors-dtypes.js';
import { StrictJsonError, parseStrictJson, type JsonValue } from './strict-json.js';

export const MAX_HEADER_SIZE = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** `[BEGIN, END)` relative to the start of the data buffer, as written in the header. */
  readonly dataOffsets: readonly [number, number];
  /** Absolute byte offset of the tensor data in the file (8 + N + BEGIN). */
  readonly fileOffset: number;
  readonly byteLength: number;
  /** Number of elements (product of the shape; 1 for rank 0). */
  readonly numel: number;
}

export interface SafetensorsHeader {
  /** N, the header length in bytes (without the 8-byte prefix). */
  readonly headerLength: number;
  /** 8 + N: where the data buffer starts in the file. */
  readonly dataStart: number;
  /** Tensors by name, in data-offset order. A `Map`, so `__proto__` is an ordinary name. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** `__metadata__` (string -> string), or null when absent. */
  readonly metadata: ReadonlyMap<string, string> | null;
}

const HINT_CORRUPT = 'the file is damaged or is not a safetensors file: re-download it, or re-export it with safetensors.torch.save_file';

function err(code: ErrorCode, label: string, msg: string, details: Record<string, unknown> = {}, hint = HINT_CORRUPT): LlmdbgError {
  return new LlmdbgError(code, `${label}: ${msg}`, { hint, details: { file: label, ...details } });
}

/** S1-S3: validates the 8-byte little-endian prefix against the file size and returns N. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, label: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw err('safetensors_header_too_small', label, `file has ${fileSize} bytes, fewer than the 8-byte header length prefix`, { fileSize });
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw err('safetensors_header_too_large', label, `header length ${n} exceeds the ${MAX_HEADER_SIZE}-byte limit`, { headerLength: n.toString() });
  }
  const len = Number(n);
  if (len + 8 > fileSize) {
    throw err('safetensors_invalid_header_length', label, `header length ${len} + 8 exceeds the file size ${fileSize} (truncated file?)`, { headerLength: len, fileSize });
  }
  return len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** S4-S13: validates header bytes (exactly N bytes after the prefix) for a file of `fileSize` bytes. */
export function parseHeaderBytes(headerBytes: Uint8Array, fileSize: number, label: string): SafetensorsHeader {
  const n = headerBytes.byteLength;
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch {
    throw err('safetensors_invalid_header', label, `header (${n} bytes) is not valid UTF-8`);
  }
  if (text[0] !== '{') {
    const first = n === 0 ? 'nothing' : `byte 0x${headerBytes[0]!.toString(16).padStart(2, '0')}`;
    throw err('safetensors_invalid_header', label, `header must start with '{' but starts with ${first}`);
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof StrictJsonError)) throw e;
    if (e.kind === 'duplicate_key' && e.path?.length === 0) {
      throw err('safetensors_duplicate_name', label, `tensor name ${JSON.stringify(e.key)} appears twice in the header`, { tensor: e.key },
        'a duplicated name is read differently by different parsers; re-export the file with one entry per tensor');
    }
    const where = e.kind === 'duplicate_key' ? ` (inside ${JSON.stringify(e.path?.join('.'))})` : '';
    throw err('safetensors_invalid_header', label, `header is not valid JSON: ${e.message}${where}`);
  }
  const dataStart = 8 + n;
  const { metadata, entries } = readSchema(root, label);
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const tensors = new Map<string, SafetensorsTensorInfo>();
  let start = 0;
  let prev: string | undefined;
  for (const t of entries) {
    if (t.begin !== start || t.end < t.begin) {
      const why = t.end < t.begin ? `END ${t.end} is before BEGIN ${t.begin}`
        : t.begin < start ? `overlaps ${JSON.stringify(prev)} which ends at ${start} (shared or overlapping data regions are not allowed)`
        : `leaves a gap: it should start at ${start}${prev === undefined ? ' (the first tensor starts at 0)' : `, where ${JSON.stringify(prev)} ends`}`;
      throw err('safetensors_invalid_offset', label, `tensor ${JSON.stringify(t.name)} data_offsets [${t.begin}, ${t.end}] ${why}`, { tensor: t.name, dataOffsets: [t.begin, t.end] });
    }
    start = t.end;
    prev = t.name;
    let numel = 1n;
    for (const d of t.shape) {
      numel *= BigInt(d);
      if (numel > BigInt(Number.MAX_SAFE_INTEGER)) throw overflow(label, t.name, t.shape, 'element count');
    }
    const bytes = numel * BigInt(DTYPE_SIZE[t.dtype]);
    if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw overflow(label, t.name, t.shape, 'byte size');
    if (BigInt(t.end - t.begin) !== bytes) {
      throw err('safetensors_invalid_info', label,
        `tensor ${JSON.stringify(t.name)} data_offsets [${t.begin}, ${t.end}] hold ${t.end - t.begin} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${bytes}`,
        { tensor: t.name, dtype: t.dtype, shape: t.shape, dataOffsets: [t.begin, t.end] });
    }
    tensors.set(t.name, {
      name: t.name, dtype: t.dtype, shape: t.shape, dataOffsets: [t.begin, t.end],
      fileOffset: dataStart + t.begin, byteLength: t.end - t.begin, numel: Number(numel),
    });
  }
  if (start + dataStart !== fileSize) {
    const diff = fileSize - dataStart - start;
    const why = diff > 0 ? `${diff} trailing bytes after the last tensor (a polyglot or padded file)` : `${-diff} bytes are missing (truncated download?)`;
    throw err('safetensors_incomplete_buffer', label, `tensors end at file offset ${start + dataStart} but the file has ${fileSize} bytes: ${why}`,
      { dataEnd: start + dataStart, fileSize });
  }
  return { headerLength: n, dataStart, tensors, metadata };
}

function overflow(label: string, name: string, shape: readonly number[], what: string): LlmdbgError {
  return err('safetensors_overflow', label, `tensor ${JSON.stringify(name)} shape [${shape.join(', ')}]: ${what} exceeds 2^53 - 1`, { tensor: name, shape });
}

interface RawEntry { name: string; dtype: Dtype; shape: number[]; begin: number; end: number }

function readSchema(root: JsonValue, label: string): { metadata: Map<string, string> | null; entries: RawEntry[] } {
  const bad = (msg: string, tensor?: string): LlmdbgError =>
    err('safetensors_invalid_header', label, tensor === undefined ? msg : `tensor ${JSON.stringify(tensor)}: ${msg}`, tensor === undefined ? {} : { tensor });
  if (root.kind !== 'object') throw bad('header must be a JSON object');
  let metadata: Map<string, string> | null = null;
  const entries: RawEntry[] = [];
  for (const [name, v] of root.entries) {
    if (name === '__metadata__') {
      if (v.kind === 'null') continue;
      if (v.kind !== 'object') throw bad(`"__metadata__" must be an object of strings, got ${v.kind}`);
      metadata = new Map();
      for (const [k, mv] of v.entries) {
        if (mv.kind !== 'string') throw bad(`"__metadata__" value for ${JSON.stringify(k)} must be a string, got ${mv.kind}`);
        metadata.set(k, mv.value);
      }
      continue;
    }
    if (v.kind !== 'object') throw bad(`entry must be an object with dtype, shape and data_offsets, got ${v.kind}`, name);
    for (const k of v.entries.keys()) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') throw bad(`unknown field ${JSON.stringify(k)} (allowed: dtype, shape, data_offsets)`, name);
    }
    const dt = v.entries.get('dtype');
    const shape = v.entries.get('shape');
    const offs = v.entries.get('data_offsets');
    if (!dt || !shape || !offs) throw bad('missing one of dtype, shape, data_offsets', name);
    if (dt.kind !== 'string') throw bad(`dtype must be a string, got ${dt.kind}`, name);
    if (!isDtype(dt.value)) {
      if (UNSUPPORTED_DTYPES.includes(dt.value)) {
        throw err('safetensors_unsupported_dtype', label, `tensor ${JSON.stringify(name)} has dtype ${dt.value}, which llmdbg cannot read`, { tensor: name, dtype: dt.value },
          `convert the tensor to F32, F16 or BF16 (supported: ${DTYPES.join(', ')})`);
      }
      throw bad(`unknown dtype ${JSON.stringify(dt.value)} (did you mean ${closest(dt.value, DTYPES, 2).join(' or ')}?)`, name);
    }
    if (shape.kind !== 'array') throw bad(`shape must be an array of non-negative integers, got ${shape.kind}`, name);
    if (offs.kind !== 'array' || offs.items.length !== 2) throw bad('data_offsets must be an array of exactly two non-negative integers', name);
    const dims = shape.items.map((x) => uint(x, label, name, 'shape'));
    const [begin, end] = offs.items.map((x) => uint(x, label, name, 'data_offsets')) as [number, number];
    entries.push({ name, dtype: dt.value, shape: dims, begin, end });
  }
  return { metadata, entries };
}

/** A non-negative integer literal that fits a safe JS integer; larger literals are S11 overflow, never rounded. */
function uint(v: JsonValue, label: string, tensor: string, field: string): number {
  if (v.kind !== 'number' || !/^(?:0|[1-9][0-9]*)$/.test(v.raw)) {
    const shown = v.kind === 'number' ? v.raw : v.kind === 'string' ? JSON.stringify(v.value) : v.kind;
    throw err('safetensors_invalid_header', label, `tensor ${JSON.stringify(tensor)}: ${field} must hold non-negative integers, got ${shown.slice(0, 40)}`, { tensor, field });
  }
  const x = v.raw.length <= 16 ? Number(v.raw) : Infinity;
  if (!Number.isSafeInteger(x)) {
    throw err('safetensors_overflow', label, `tensor ${JSON.stringify(tensor)}: ${field} value ${v.raw.slice(0, 40)} exceeds 2^53 - 1`, { tensor, field, value: v.raw.slice(0, 40) });
  }
  return x;
}
