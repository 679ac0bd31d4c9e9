/**
 * Refusal of pickle-based and other unsafe weight formats, by content and by name, plus `findWeightFiles`,
 * which picks the safetensors weights in a model folder. llmdbg never unpickles anything: PyTorch zip
 * checkpoints (`data.pkl`), raw pickles, `.npy`/`.npz` and any zip archive are refused with `unsafe_format`.
 * Non-goals: converting those files (the message says how), validating safetensors (safetensors-header.ts).
 * LIMITATION: content sniffing looks at the first and last 64 KiB only; a pickle hidden deeper is caught by the safetensors checks instead.
 */

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { LlmdbgError } from '../errors.js';

export const SNIFF_BYTES = 64 * 1024;

export interface UnsafeFormat {
  readonly kind: 'pytorch_zip' | 'npz' | 'zip' | 'pickle' | 'npy';
  readonly description: string;
}

const UNSAFE_EXT = ['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle', '.npy', '.npz', '.joblib'];

function latin1(b: Uint8Array, max = b.byteLength): string {
  let s = '';
  const n = Math.min(max, b.byteLength);
  for (let i = 0; i < n; i += 8192) s += String.fromCharCode(...b.subarray(i, Math.min(n, i + 8192)));
  return s;
}

/** A header prefix that a safetensors writer could have produced: N <= 100 MB followed by `{`. */
function looksLikeSafetensors(head: Uint8Array): boolean {
  if (head.byteLength < 9 || head[8] !== 0x7b) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n <= 100_000_000n;
}

// After PROTO 2..5: FRAME, EMPTY_DICT/LIST, MARK, GLOBAL, LONG1 (legacy torch magic), EMPTY_TUPLE, SHORT_BINUNICODE, STACK_GLOBAL...
const AFTER_PROTO = new Set([0x95, 0x7d, 0x5d, 0x28, 0x63, 0x8a, 0x29, 0x8c, 0x93, 0x58, 0x4b, 0x4a, 0x4d, 0x4e, 0x88, 0x89, 0x71]);
const PROTO01 = /^(?:\((?:dp|lp|i|S'|V|t)|c[A-Za-z_][\w.]*\n[A-Za-z_]|[}\]]q[\x00-\x02]|[}\]]\()/;

/**
 * Identifies unsafe content from the first bytes of a file (and optionally its last bytes, where a zip
 * keeps its central directory). Returns null when nothing unsafe is recognised.
 */
export function detectUnsafeFormat(head: Uint8Array, tail: Uint8Array = new Uint8Array(0)): UnsafeFormat | null {
  const h = latin1(head, 16);
  if (/^PK(?:\x03\x04|\x05\x06|\x07\x08)/.test(h)) {
    const text = latin1(head) + latin1(tail);
    if (text.includes('data.pkl')) return { kind: 'pytorch_zip', description: 'PyTorch zip checkpoint (contains a pickle, data.pkl)' };
    if (text.includes('.npy')) return { kind: 'npz', description: 'NumPy .npz archive (zip of .npy arrays, may hold pickles)' };
    return { kind: 'zip', description: 'zip archive' };
  }
  if (h.startsWith('\x93NUMPY')) return { kind: 'npy', description: 'NumPy .npy array (object arrays are pickles)' };
  if (looksLikeSafetensors(head)) return null;
  if (head[0] === 0x80 && head[1] !== undefined && head[1] >= 2 && head[1] <= 5 && (head.byteLength < 3 || AFTER_PROTO.has(head[2]!))) {
    return { kind: 'pickle', description: `Python pickle (protocol ${head[1]})` };
  }
  if (PROTO01.test(h)) return { kind: 'pickle', description: 'Python pickle (protocol 0/1)' };
  return null;
}

/** The `unsafe_format` error for `file`, with the way out. */
export function unsafeFormatError(file: string, found: UnsafeFormat | { description: string }, cause?: unknown): LlmdbgError {
  return new LlmdbgError('unsafe_format',
    `${file}: this is a ${found.description}, not a safetensors file; llmdbg never loads pickle-based formats because unpickling runs arbitrary code`,
    {
      hint: 'convert it to safetensors on a machine you trust, e.g. in Python `safetensors.torch.save_file(torch.load(p, weights_only=True), "model.safetensors")` ' +
        '(or safetensors.numpy.save_file for NumPy), or with the Hugging Face "convert" space; never unpickle files from untrusted sources',
      details: { file, format: found.description },
      ...(cause === undefined ? {} : { cause }),
    });
}

/** Throws `unsafe_format` when `path` has an unsafe extension or unsafe content; `file_not_found` if unreadable. */
export function assertNotPickle(path: string): void {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new LlmdbgError('file_not_found', `${path}: cannot open (${code})`, { cause: e, details: { file: path } });
  }
  let found: UnsafeFormat | null;
  try {
    const size = fs.fstatSync(fd).size;
    const head = new Uint8Array(Math.min(SNIFF_BYTES, size));
    const tail = new Uint8Array(Math.min(SNIFF_BYTES, size - head.byteLength));
    readFully(fd, head, 0);
    readFully(fd, tail, size - tail.byteLength);
    found = detectUnsafeFormat(head, tail);
  } finally {
    fs.closeSync(fd);
  }
  if (found) throw unsafeFormatError(path, found);
  const ext = nodePath.extname(path).toLowerCase();
  if (UNSAFE_EXT.includes(ext)) throw unsafeFormatError(path, { description: `${ext} file (a pickle-based format by convention)` });
}

function readFully(fd: number, dest: Uint8Array, pos: number): void {
  let done = 0;
  while (done < dest.byteLength) {
    const got = fs.readSync(fd, dest, done, dest.byteLength - done, pos + done);
    if (got === 0) return;
    done += got;
  }
}

export type WeightFiles = { readonly kind: 'single'; readonly path: string } | { readonly kind: 'sharded'; readonly indexPath: string };

/**
 * Picks the weights in a model folder: `model.safetensors`, else `model.safetensors.index.json`, else the
 * only `*.safetensors.index.json` or the only `*.safetensors`. A folder with only pickle-style weights gives
 * `unsafe_format` naming them; nothing usable gives `file_not_found`. A file path is accepted as is.
 */
export function findWeightFiles(dir: string): WeightFiles {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new LlmdbgError('file_not_found', `${dir}: no such model folder or file`, { cause: e, details: { file: dir }, hint: 'pass a folder holding model.safetensors or model.safetensors.index.json' });
  }
  if (st.isFile()) {
    if (dir.endsWith('.safetensors.index.json')) return { kind: 'sharded', indexPath: dir };
    if (!dir.endsWith('.safetensors')) assertNotPickle(dir);
    return { kind: 'single', path: dir };
  }
  const names = fs.readdirSync(dir).sort();
  const isFile = (n: string): boolean => {
    try {
      return fs.statSync(nodePath.join(dir, n)).isFile();
    } catch {
      return false;
    }
  };
  const files = names.filter(isFile);
  if (files.includes('model.safetensors')) return { kind: 'single', path: nodePath.join(dir, 'model.safetensors') };
  if (files.includes('model.safetensors.index.json')) return { kind: 'sharded', indexPath: nodePath.join(dir, 'model.safetensors.index.json') };
  const indexes = files.filter((f) => f.endsWith('.safetensors.index.json'));
  if (indexes.length === 1) return { kind: 'sharded', indexPath: nodePath.join(dir, indexes[0]!) };
  const singles = files.filter((f) => f.endsWith('.safetensors'));
  if (indexes.length === 0 && singles.length === 1) return { kind: 'single', path: nodePath.join(dir, singles[0]!) };
  if (indexes.length > 1 || singles.length > 1) {
    const list = (indexes.length > 1 ? indexes : singles).join(', ');
    throw new LlmdbgError('file_not_found', `${dir}: several candidate weight files and no model.safetensors(.index.json): ${list}`,
      { details: { file: dir, candidates: list }, hint: 'pass the path of the one file to load' });
  }
  const unsafe = files.filter((f) => UNSAFE_EXT.includes(nodePath.extname(f).toLowerCase()) || f.endsWith('.bin.index.json'));
  if (unsafe.length > 0) {
    throw unsafeFormatError(nodePath.join(dir, unsafe[0]!), { description: `pickle-based checkpoint (${unsafe.join(', ')})` });
  }
  const shown = names.slice(0, 10).join(', ') + (names.length > 10 ? ', ...' : '');
  throw new LlmdbgError('file_not_found', `${dir}: no model.safetensors or model.safetensors.index.json here (found: ${shown || 'nothing'})`,
    { details: { file: dir }, hint: 'download the safetensors weights of the model, or pass the folder that holds them' });
}
