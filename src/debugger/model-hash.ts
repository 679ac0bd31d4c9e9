/**
 * A real content hash of a model's weights: sha256 of the weight files, streamed from disk.
 * One file: the hash is exactly `sha256sum model.safetensors`. Sharded: sha256 over the lines
 * "<sha256>  <file>\n" (sha256sum's format) of the index and each shard, sorted by file name.
 * Non-goals: hashing config or tokenizer files (the weights decide the numbers), caching.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as nodePath from 'node:path';
import { LlmdbgError } from '../errors.js';
import { findWeightFiles } from '../formats/unsafe-formats.js';
import { openSafetensorsIndex } from '../formats/safetensors-index.js';

export interface ModelHash {
  /** Hex sha256 as described above. */
  sha256: string;
  files: { name: string; bytes: number; sha256: string }[];
}

/** sha256 (hex) and size of one file, read in chunks. */
export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
      bytes += (chunk as Buffer).byteLength;
    }
  } catch (e) {
    throw new LlmdbgError('file_not_found', `${path}: cannot read the file to hash it (${(e as Error).message})`, { cause: e, details: { file: path } });
  }
  return { sha256: h.digest('hex'), bytes };
}

/** Hashes the weight files of a model folder (or a weights file). */
export async function modelHash(dir: string): Promise<ModelHash> {
  const w = findWeightFiles(dir);
  let paths: string[];
  if (w.kind === 'single') paths = [w.path];
  else {
    const idx = openSafetensorsIndex(w.indexPath);
    try {
      const base = nodePath.dirname(w.indexPath);
      paths = [w.indexPath, ...idx.shards().map((s) => nodePath.join(base, s))];
    } finally {
      idx.close();
    }
  }
  paths.sort((a, b) => nodePath.basename(a).localeCompare(nodePath.basename(b)));
  const files: ModelHash['files'] = [];
  for (const p of paths) files.push({ name: nodePath.basename(p), ...(await sha256File(p)) });
  if (files.length === 1) return { sha256: files[0]!.sha256, files };
  const combined = createHash('sha256');
  for (const f of files) combined.update(`${f.sha256}  ${f.name}\n`);
  return { sha256: combined.digest('hex'), files };
}
