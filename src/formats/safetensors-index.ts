/**
 * Sharded safetensors checkpoints: `openSafetensorsIndex(dirOrIndex)` reads `model.safetensors.index.json`,
 * opens every shard with the strict reader and checks that the index and the shards agree exactly (every
 * listed tensor is in its shard, no tensor is in two shards, no shard holds unlisted tensors).
 * Shard names must be plain file names in the same folder (path-traversal guard).
 * Non-goals: downloading shards, the index `metadata` block (ignored, e.g. total_size).
 */

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { LlmdbgError, closest } from '../errors.js';
import { openSafetensors, type SafetensorsFile, type TensorStore } from './safetensors.js';
import { StrictJsonError, parseStrictJson, type JsonValue } from './strict-json.js';
import { unsafeFormatError } from './unsafe-formats.js';

export const INDEX_FILE = 'model.safetensors.index.json';
const MAX_INDEX_BYTES = 100_000_000;

export interface SafetensorsIndex extends TensorStore {
  /** Shard file name (as written in the index) holding `name`. */
  shardOf(name: string): string;
  /** Distinct shard file names, in first-use order. */
  shards(): string[];
}

function bad(indexPath: string, msg: string, details: Record<string, unknown> = {}): LlmdbgError {
  return new LlmdbgError('safetensors_invalid_index', `${indexPath}: ${msg}`, {
    details: { file: indexPath, ...details },
    hint: 'the index must map every tensor name to a shard file in the same folder; re-download the checkpoint',
  });
}

/** A shard name must be a plain file name: no separators, no `..`, not absolute, no drive letter or NUL. */
export function checkShardName(indexPath: string, tensor: string, shard: string): void {
  const plain = shard.length > 0 && shard !== '.' && shard !== '..' && !/[/\\\0:]/.test(shard) && nodePath.basename(shard) === shard;
  if (!plain) {
    throw bad(indexPath, `tensor ${JSON.stringify(tensor)} points to shard ${JSON.stringify(shard)}, which is not a plain file name in the index's folder`, { tensor, shard });
  }
  if (!shard.endsWith('.safetensors')) {
    if (/\.(bin|pt|pth|ckpt|pkl)$/i.test(shard)) throw unsafeFormatError(nodePath.join(nodePath.dirname(indexPath), shard), { description: 'pickle-based shard' });
    throw bad(indexPath, `tensor ${JSON.stringify(tensor)} points to shard ${JSON.stringify(shard)}, which is not a .safetensors file`, { tensor, shard });
  }
}

function readIndexJson(indexPath: string): Map<string, string> {
  let text: string;
  try {
    const st = fs.statSync(indexPath);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_INDEX_BYTES) throw bad(indexPath, `index is ${st.size} bytes, more than the ${MAX_INDEX_BYTES}-byte limit`);
    text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(indexPath));
  } catch (e) {
    if (e instanceof LlmdbgError) throw e;
    if (e instanceof TypeError) throw bad(indexPath, 'index is not valid UTF-8');
    throw new LlmdbgError('file_not_found', `${indexPath}: cannot read the shard index (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { cause: e, details: { file: indexPath }, hint: `a sharded checkpoint needs ${INDEX_FILE} next to its shards` });
  }
  let root: JsonValue;
  try {
    root = parseStrictJson(text);
  } catch (e) {
    if (!(e instanceof StrictJsonError)) throw e;
    if (e.kind === 'duplicate_key' && e.path?.length === 1 && e.path[0] === 'weight_map') {
      throw new LlmdbgError('safetensors_duplicate_name', `${indexPath}: tensor ${JSON.stringify(e.key)} is listed twice in weight_map`,
        { details: { file: indexPath, tensor: e.key }, hint: 'each tensor must be listed once; re-download the checkpoint' });
    }
    throw bad(indexPath, `not valid JSON: ${e.message}`);
  }
  const wm = root.kind === 'object' ? root.entries.get('weight_map') : undefined;
  if (!wm || wm.kind !== 'object') throw bad(indexPath, 'missing "weight_map" object (tensor name -> shard file)');
  const map = new Map<string, string>();
  for (const [name, v] of wm.entries) {
    if (v.kind !== 'string') throw bad(indexPath, `weight_map entry for ${JSON.stringify(name)} must be a file name string, got ${v.kind}`, { tensor: name });
    checkShardName(indexPath, name, v.value);
    map.set(name, v.value);
  }
  return map;
}

/** Opens a sharded checkpoint from its folder or from the index file path. Close it when done. */
export function openSafetensorsIndex(dirOrIndex: string): SafetensorsIndex {
  let indexPath = dirOrIndex;
  try {
    if (fs.statSync(dirOrIndex).isDirectory()) indexPath = nodePath.join(dirOrIndex, INDEX_FILE);
  } catch {
    // reported by readIndexJson
  }
  const weightMap = readIndexJson(indexPath);
  const dir = nodePath.dirname(indexPath);
  const files = new Map<string, SafetensorsFile>();
  const closeAll = (): void => files.forEach((f) => f.close());
  try {
    for (const shard of new Set(weightMap.values())) {
      const p = nodePath.join(dir, shard);
      if (!fs.existsSync(p)) {
        const users = [...weightMap].filter(([, s]) => s === shard).length;
        throw new LlmdbgError('file_not_found', `${indexPath}: shard ${JSON.stringify(shard)} (holding ${users} tensors) is missing from ${dir}`,
          { details: { file: indexPath, shard }, hint: 'download all shards listed in the index' });
      }
      files.set(shard, openSafetensors(p));
    }
    const owner = new Map<string, string>();
    for (const [shard, f] of files) {
      for (const name of f.names()) {
        const other = owner.get(name);
        if (other !== undefined) {
          throw new LlmdbgError('safetensors_duplicate_name', `${indexPath}: tensor ${JSON.stringify(name)} is stored in two shards, ${JSON.stringify(other)} and ${JSON.stringify(shard)}`,
            { details: { file: indexPath, tensor: name, shards: [other, shard] }, hint: 'a tensor must have exactly one owner; re-export the checkpoint' });
        }
        owner.set(name, shard);
        if (!weightMap.has(name)) throw bad(indexPath, `shard ${JSON.stringify(shard)} holds tensor ${JSON.stringify(name)}, which the index does not list`, { tensor: name, shard });
      }
    }
    for (const [name, shard] of weightMap) {
      if (!files.get(shard)!.has(name)) {
        throw bad(indexPath, `tensor ${JSON.stringify(name)} is listed in shard ${JSON.stringify(shard)} but that shard does not hold it${owner.has(name) ? ` (it is in ${JSON.stringify(owner.get(name))})` : ''}`, { tensor: name, shard });
      }
    }
  } catch (e) {
    closeAll();
    throw e;
  }
  const fileOf = (name: string): SafetensorsFile => {
    const shard = weightMap.get(name);
    if (shard !== undefined) return files.get(shard)!;
    const near = closest(name, weightMap.keys());
    throw new LlmdbgError('tensor_not_found', `${indexPath}: no tensor named ${JSON.stringify(name)}${near.length ? `; closest: ${near.map((x) => JSON.stringify(x)).join(', ')}` : ''}`,
      { details: { file: indexPath, tensor: name, closest: near }, hint: 'list the names with names()' });
  };
  return {
    path: indexPath,
    names: () => [...weightMap.keys()],
    has: (name) => weightMap.has(name),
    info: (name) => fileOf(name).info(name),
    read: (name, alloc) => fileOf(name).read(name, alloc),
    raw: (name) => fileOf(name).raw(name),
    shardOf: (name) => (fileOf(name), weightMap.get(name)!),
    shards: () => [...files.keys()],
    close: closeAll,
  };
}
