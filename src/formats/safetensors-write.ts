/**
 * safetensors writer laid out like the reference `prepare()`: tensors sorted by descending dtype alignment
 * then by name (UTF-8 byte order), contiguous offsets from 0, compact JSON with `__metadata__` first, header
 * padded with spaces so 8 + N is a multiple of 8. Floats are converted to F16/BF16 with round-to-nearest-even.
 * Files are written crash-safely through util/atomic-write.ts.
 * Non-goals: streaming tensors larger than memory, F8 encoding.
 */

import { LlmdbgError } from '../errors.js';
import { writeFileAtomic, writeFileAtomicSync, type AtomicWriteOptions } from '../util/atomic-write.js';
import { DTYPE_SIZE, ENCODABLE_DTYPES, dtypeRank, encodeFromNumbers, isDtype, type Dtype } from './safetensors-dtypes.js';

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Values, converted to `dtype` (floats rounded to nearest even; integers must fit). */
  readonly data?: ArrayLike<number>;
  /** Or the already-encoded little-endian bytes (exactly numel x dtype size). */
  readonly bytes?: Uint8Array;
}

export type TensorsToWrite = readonly TensorToWrite[] | ReadonlyMap<string, Omit<TensorToWrite, 'name'>>;
export type MetadataToWrite = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

function invalid(label: string, msg: string, details: Record<string, unknown> = {}): LlmdbgError {
  return new LlmdbgError('invalid_argument', `${label}: ${msg}`, { details: { file: label, ...details } });
}

function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

interface Prepared { name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array }

function prepareOne(label: string, t: TensorToWrite): Prepared {
  const name = t.name;
  const at = `tensor ${JSON.stringify(name)}`;
  if (name === '__metadata__') throw invalid(label, 'a tensor cannot be named "__metadata__" (reserved for the metadata block)', { tensor: name });
  if (!isWellFormed(name)) throw invalid(label, `${at}: name holds a lone UTF-16 surrogate and cannot be stored as UTF-8`, { tensor: name });
  if (!isDtype(t.dtype)) throw new LlmdbgError('safetensors_unsupported_dtype', `${label}: ${at} has unknown dtype ${JSON.stringify(t.dtype)}`, { details: { tensor: name } });
  const shape = [...t.shape];
  let numel = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw invalid(label, `${at}: shape [${shape.join(', ')}] must hold non-negative integers`, { tensor: name });
    numel *= d;
  }
  if (!Number.isSafeInteger(numel * DTYPE_SIZE[t.dtype])) {
    throw new LlmdbgError('safetensors_overflow', `${label}: ${at} shape [${shape.join(', ')}] is too large`, { details: { tensor: name } });
  }
  if ((t.data === undefined) === (t.bytes === undefined)) throw invalid(label, `${at}: give exactly one of data (numbers) or bytes (encoded)`, { tensor: name });
  let bytes: Uint8Array;
  if (t.bytes !== undefined) {
    bytes = t.bytes;
    if (bytes.byteLength !== numel * DTYPE_SIZE[t.dtype]) {
      throw invalid(label, `${at}: ${bytes.byteLength} bytes given but ${t.dtype} [${shape.join(', ')}] needs ${numel * DTYPE_SIZE[t.dtype]}`, { tensor: name });
    }
  } else {
    const data = t.data!;
    if (data.length !== numel) throw invalid(label, `${at}: ${data.length} values given but shape [${shape.join(', ')}] has ${numel} elements`, { tensor: name });
    if (!ENCODABLE_DTYPES.includes(t.dtype)) {
      throw new LlmdbgError('safetensors_unsupported_dtype', `${label}: ${at}: cannot encode numbers as ${t.dtype}`, { details: { tensor: name }, hint: 'pass the encoded bytes instead' });
    }
    const enc = encodeFromNumbers(t.dtype, data);
    if (enc.bad !== undefined) throw invalid(label, `${at}: value ${data[enc.bad]} at index ${enc.bad} does not fit ${t.dtype}`, { tensor: name, index: enc.bad });
    bytes = enc.bytes;
  }
  return { name, dtype: t.dtype, shape, bytes };
}

function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Builds the file as a list of chunks (prefix + header, then each tensor's bytes), without concatenating.
 * `label` names the target in errors.
 */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: MetadataToWrite, label = '<safetensors>'): Uint8Array[] {
  const list: TensorToWrite[] = Array.isArray(tensors)
    ? [...(tensors as readonly TensorToWrite[])]
    : [...(tensors as ReadonlyMap<string, Omit<TensorToWrite, 'name'>>)].map(([name, t]) => ({ ...t, name }));
  const seen = new Set<string>();
  for (const t of list) {
    if (seen.has(t.name)) throw new LlmdbgError('safetensors_duplicate_name', `${label}: tensor ${JSON.stringify(t.name)} is given twice`, { details: { file: label, tensor: t.name } });
    seen.add(t.name);
  }
  const prepared = list.map((t) => prepareOne(label, t));
  prepared.sort((a, b) => dtypeRank(b.dtype) - dtypeRank(a.dtype) || utf8Compare(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== undefined) {
    const entries = metadata instanceof Map ? [...(metadata as ReadonlyMap<string, string>)] : Object.entries(metadata as Record<string, string>);
    for (const [k, v] of entries) {
      if (typeof v !== 'string' || !isWellFormed(k) || !isWellFormed(v)) throw invalid(label, `metadata ${JSON.stringify(k)} must map to a well-formed string`);
    }
    entries.sort((x, y) => utf8Compare(x[0], y[0]));
    parts.push(`"__metadata__":{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let offset = 0;
  for (const t of prepared) {
    const end = offset + t.bytes.byteLength;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const n = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const head = new Uint8Array(8 + n).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(n), true);
  head.set(json, 8);
  return [head, ...prepared.map((t) => t.bytes)];
}

/** `serializeSafetensors` joined into one buffer (tests, small files). */
export function serializeSafetensorsToBytes(tensors: TensorsToWrite, metadata?: MetadataToWrite): Uint8Array {
  return Buffer.concat(serializeSafetensors(tensors, metadata));
}

/** Writes a safetensors file crash-safely (old or new content, never torn). */
export async function writeSafetensors(path: string, tensors: TensorsToWrite, metadata?: MetadataToWrite, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata, path), opts);
}

export function writeSafetensorsSync(path: string, tensors: TensorsToWrite, metadata?: MetadataToWrite, opts: AtomicWriteOptions = {}): void {
  writeFileAtomicSync(path, serializeSafetensors(tensors, metadata, path), opts);
}
