/**
 * Crash-safe file replacement (RELIABILITY.md §4): the target holds either the old or the new content,
 * never a torn mix. Symlinks are resolved, a uniquely named temp file is written in the same directory,
 * fsynced, renamed over the target, then the directory is fsynced (POSIX). Async writes to one path are serialised.
 * Non-goals: append-only logs, cross-filesystem moves, Windows rename retries.
 * LIMITATION: a process killed mid-write (SIGKILL, power loss) leaves its `.<name>.<pid>.*.tmp` file behind; nothing sweeps them.
 */

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { LlmdbgError } from '../errors.js';

export type AtomicData = Uint8Array | string | readonly Uint8Array[];

export interface AtomicWriteOptions {
  /** File mode for a new file; an existing file keeps its mode unless this is given. */
  mode?: number;
  /** fsync file and directory (default true). Turning it off keeps atomicity but not durability. */
  fsync?: boolean;
}

let counter = 0;

function chunks(data: AtomicData): Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  return [...data];
}

/** Checked as each chunk is written, so a bad chunk fails mid-write (and the temp file is removed). */
function checkChunk(path: string, c: unknown, i: number): asserts c is Uint8Array {
  if (!(c instanceof Uint8Array)) {
    throw new LlmdbgError('invalid_argument', `${path}: chunk ${i} of the data is ${typeof c}, not a Uint8Array; nothing was written`);
  }
}

/** The real file behind `path` (following symlinks), or `path` itself when it does not exist yet. */
function resolveTarget(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return nodePath.resolve(path);
  }
}

function tempName(target: string): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.${process.pid}.${counter}.${randomBytes(4).toString('hex')}.tmp`);
}

function existingMode(target: string): number | undefined {
  try {
    return fs.statSync(target).mode & 0o7777;
  } catch {
    return undefined;
  }
}

function wrap(path: string, e: unknown): LlmdbgError {
  if (e instanceof LlmdbgError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return new LlmdbgError('write_failed', `${path}: could not write the file (${code}: ${(e as Error).message}); the previous content, if any, is unchanged`,
    { cause: e, details: { file: path, errno: code }, hint: 'check that the folder exists, is writable and has free space' });
}

const IGNORED_DIR_FSYNC = new Set(['EINVAL', 'EISDIR', 'EPERM', 'EACCES', 'ENOTSUP', 'EBADF']);

function fsyncDirSync(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    if (!IGNORED_DIR_FSYNC.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    if (!IGNORED_DIR_FSYNC.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await fh?.close();
  }
}

/** Synchronous atomic replace of `path` with `data`. Throws `write_failed`; the temp file never survives an error. */
export function writeFileAtomicSync(path: string, data: AtomicData, opts: AtomicWriteOptions = {}): void {
  const target = resolveTarget(path);
  const tmp = tempName(target);
  const sync = opts.fsync ?? true;
  let fd: number | undefined;
  try {
    const mode = opts.mode ?? existingMode(target);
    fd = fs.openSync(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) fs.fchmodSync(fd, mode); // the umask applies to openSync's mode
    chunks(data).forEach((c, i) => {
      checkChunk(path, c, i);
      let done = 0;
      while (done < c.byteLength) done += fs.writeSync(fd!, c, done, c.byteLength - done);
    });
    if (sync) fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    try {
      fs.unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw wrap(path, e);
  }
  try {
    if (sync) fsyncDirSync(nodePath.dirname(target));
  } catch (e) {
    throw wrap(path, e);
  }
}

async function writeOnce(path: string, data: AtomicData, opts: AtomicWriteOptions): Promise<void> {
  const target = await fsp.realpath(path).catch(() => nodePath.resolve(path));
  const tmp = tempName(target);
  const sync = opts.fsync ?? true;
  let fh: fsp.FileHandle | undefined;
  try {
    const mode = opts.mode ?? (await fsp.stat(target).then((s) => s.mode & 0o7777, () => undefined));
    fh = await fsp.open(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) await fh.chmod(mode);
    for (const [i, c] of chunks(data).entries()) {
      checkChunk(path, c, i);
      let done = 0;
      while (done < c.byteLength) done += (await fh.write(c, done, c.byteLength - done)).bytesWritten;
    }
    if (sync) await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, target);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw wrap(path, e);
  }
  try {
    if (sync) await fsyncDir(nodePath.dirname(target));
  } catch (e) {
    throw wrap(path, e);
  }
}

// LIMITATION: the queue key is the absolute path as given, so two different symlinks to one file are not serialised.
const queues = new Map<string, Promise<void>>();

/**
 * Asynchronous atomic replace. Calls for the same path run one after another in call order, so the last
 * call's content wins; a failed call does not block the next one.
 */
export function writeFileAtomic(path: string, data: AtomicData, opts: AtomicWriteOptions = {}): Promise<void> {
  const key = nodePath.resolve(path);
  const prev = queues.get(key) ?? Promise.resolve();
  const next = prev.then(() => writeOnce(path, data, opts), () => writeOnce(path, data, opts));
  queues.set(key, next);
  const done = (): void => {
    if (queues.get(key) === next) queues.delete(key);
  };
  next.then(done, done);
  return next;
}
