/**
 * Strict safetensors reader: `openSafetensors(path)` validates the whole header with a bounded read
 * (never the whole file), then reads tensors lazily, one positioned read per tensor straight into the
 * float32 result (F32), or into its upper half and widened in place (F16/BF16).
 * A file that fails the first checks is sniffed for pickle/zip/npy content so the user gets `unsafe_format`.
 * Non-goals: mmap, writing (safetensors-write.ts), sharded folders (safetensors-index.ts).
 * LIMITATION: the file may change between open() and read(); a shrunk file is detected, rewritten bytes are not.
 */

import * as fs from 'node:fs';
import { LlmdbgError, closest } from '../errors.js';
import { readAsFloat32, type Dtype } from './safetensors-dtypes.js';
import { parseHeaderBytes, readHeaderLength, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header.js';
import { detectUnsafeFormat, unsafeFormatError, SNIFF_BYTES } from './unsafe-formats.js';

export type { SafetensorsHeader, SafetensorsTensorInfo } from './safetensors-header.js';
export type { Dtype } from './safetensors-dtypes.js';

export interface SafetensorsTensor {
  readonly dtype: Dtype;
  readonly shape: number[];
  /** Values widened to float32; a fresh array the caller owns. */
  readonly data: Float32Array;
}

/** What both a single file and a sharded folder offer. */
export interface TensorStore {
  /** The file (or index file) this store reads, as given by the caller. */
  readonly path: string;
  /** Tensor names: data-offset order for a file, weight_map order for an index. */
  names(): string[];
  has(name: string): boolean;
  /** dtype, shape and byte range; throws `tensor_not_found` with close names. */
  info(name: string): SafetensorsTensorInfo;
  /** Widened to float32; `alloc` supplies the destination array (see readAsFloat32). */
  read(name: string, alloc?: (count: number) => Float32Array): SafetensorsTensor;
  /** The stored little-endian bytes, copied. */
  raw(name: string): Uint8Array;
  close(): void;
}

export interface SafetensorsFile extends TensorStore {
  readonly metadata: ReadonlyMap<string, string> | null;
  readonly header: SafetensorsHeader;
  /** File size in bytes at open time. */
  readonly size: number;
}

/** Random access to the bytes of a file or an in-memory buffer. */
interface ByteSource {
  readonly size: number;
  /** Fills `dest` from `pos`; throws when fewer bytes exist. */
  readInto(pos: number, dest: Uint8Array): void;
  close(): void;
}

const EARLY_CODES = new Set(['safetensors_header_too_small', 'safetensors_header_too_large', 'safetensors_invalid_header_length', 'safetensors_invalid_header']);

function fdSource(path: string): ByteSource {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new LlmdbgError('file_not_found', `${path}: not a regular file`, { details: { file: path } });
    const size = st.size;
    const handle = fd;
    let open = true;
    return {
      size,
      readInto(pos, dest) {
        if (!open) throw new LlmdbgError('invalid_argument', `${path}: the safetensors file was closed`, { hint: 'open it again with openSafetensors()' });
        let done = 0;
        while (done < dest.byteLength) {
          const got = fs.readSync(handle, dest, done, dest.byteLength - done, pos + done);
          if (got === 0) {
            throw new LlmdbgError('safetensors_incomplete_buffer', `${path}: file ended at byte ${pos + done}, expected ${pos + dest.byteLength} (was it truncated after it was opened?)`,
              { details: { file: path }, hint: 'do not modify model files while llmdbg has them open; reopen the file' });
          }
          done += got;
        }
      },
      close() {
        if (open) fs.closeSync(handle);
        open = false;
      },
    };
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    if (e instanceof LlmdbgError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LlmdbgError('file_not_found', `${path}: cannot open safetensors file (${code})`, { cause: e, details: { file: path, errno: code }, hint: 'check the path and its permissions' });
  }
}

function bytesSource(bytes: Uint8Array, label: string): ByteSource {
  return {
    size: bytes.byteLength,
    readInto(pos, dest) {
      // Explicit check: subarray() would clamp silently.
      if (!(pos >= 0 && pos + dest.byteLength <= bytes.byteLength)) {
        throw new LlmdbgError('safetensors_incomplete_buffer', `${label}: read of ${dest.byteLength} bytes at ${pos} is outside the ${bytes.byteLength}-byte buffer`, { details: { file: label } });
      }
      dest.set(bytes.subarray(pos, pos + dest.byteLength));
    },
    close() {},
  };
}

function readHeader(src: ByteSource, label: string): SafetensorsHeader {
  try {
    const prefix = new Uint8Array(Math.min(8, src.size));
    src.readInto(0, prefix);
    const n = readHeaderLength(prefix, src.size, label);
    const headerBytes = new Uint8Array(n); // n <= 100 MB and n + 8 <= file size, checked above
    src.readInto(8, headerBytes);
    return parseHeaderBytes(headerBytes, src.size, label);
  } catch (e) {
    if (e instanceof LlmdbgError && EARLY_CODES.has(e.code)) {
      const head = new Uint8Array(Math.min(SNIFF_BYTES, src.size));
      src.readInto(0, head);
      const tailLen = Math.min(SNIFF_BYTES, src.size - head.byteLength);
      const tail = new Uint8Array(tailLen);
      if (tailLen > 0) src.readInto(src.size - tailLen, tail);
      const found = detectUnsafeFormat(head, tail);
      if (found) throw unsafeFormatError(label, found, e);
    }
    throw e;
  }
}

function makeFile(src: ByteSource, label: string, header: SafetensorsHeader): SafetensorsFile {
  const info = (name: string): SafetensorsTensorInfo => {
    const t = header.tensors.get(name);
    if (t) return t;
    const near = closest(name, header.tensors.keys());
    throw new LlmdbgError('tensor_not_found', `${label}: no tensor named ${JSON.stringify(name)}${near.length ? `; closest: ${near.map((x) => JSON.stringify(x)).join(', ')}` : ' (the file holds no tensors)'}`,
      { details: { file: label, tensor: name, closest: near }, hint: 'list the names with names()' });
  };
  const raw = (name: string): Uint8Array => {
    const t = info(name);
    const out = new Uint8Array(t.byteLength);
    src.readInto(t.fileOffset, out);
    return out;
  };
  return {
    path: label,
    header,
    metadata: header.metadata,
    size: src.size,
    names: () => [...header.tensors.keys()],
    has: (name) => header.tensors.has(name),
    info,
    raw,
    read(name, alloc) {
      const t = info(name);
      // One copy for F32: the positioned read lands in the array that becomes the tensor's data.
      return { dtype: t.dtype, shape: [...t.shape], data: readAsFloat32(t.dtype, t.numel, (dest) => src.readInto(t.fileOffset, dest), alloc) };
    },
    close: () => src.close(),
  };
}

/** Validates the header of the file at `path` (checks S1-S13) and closes it again. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const src = fdSource(path);
  try {
    return readHeader(src, path);
  } finally {
    src.close();
  }
}

/** Opens and fully validates a safetensors file; tensor data is read on demand. Call `close()` when done. */
export function openSafetensors(path: string): SafetensorsFile {
  const src = fdSource(path);
  try {
    return makeFile(src, path, readHeader(src, path));
  } catch (e) {
    src.close();
    throw e;
  }
}

/** Same checks over an in-memory file image; `label` names it in errors. The bytes are not copied. */
export function parseSafetensorsBytes(bytes: Uint8Array, label = '<buffer>'): SafetensorsFile {
  const src = bytesSource(bytes, label);
  return makeFile(src, label, readHeader(src, label));
}
