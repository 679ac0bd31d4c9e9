// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Sharded safetensors checkpoints: a valid two-shard folder reads like one file; a missing shard, a name in
 * two shards, path traversal in shard names, index/shard disagreement and duplicate index keys are refused.
 * Non-goals: single-file validation (safetensors.test.ts).
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { openSafetensorsIndex } from '../../src/formats/safetensors-index.js';
import { serializeSafetensorsToBytes } from '../../src/formats/safetensors-write.js';
import { tempDir, throwsCode } from './safetensors-fixtures.js';

const root = tempDir('llmdbg-idx-');
let n = 0;

/** A fresh folder with the given shards ({file: {tensor: values}}) and index text. */
function folder(shards: Record<string, Record<string, number[]>>, index: string | Record<string, string>): string {
  const d = path.join(root, `m${n++}`);
  fs.mkdirSync(d);
  for (const [file, tensors] of Object.entries(shards)) {
    const list = Object.entries(tensors).map(([name, data]) => ({ name, dtype: 'F32' as const, shape: [data.length], data }));
    fs.writeFileSync(path.join(d, file), serializeSafetensorsToBytes(list));
  }
  const text = typeof index === 'string' ? index : JSON.stringify({ metadata: { total_size: 0 }, weight_map: index });
  fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), text);
  return d;
}

const A = 'model-00001-of-00002.safetensors';
const B = 'model-00002-of-00002.safetensors';

describe('sharded safetensors index', () => {
  it('a valid two-shard folder reads through one view', () => {
    const d = folder({ [A]: { 'h.0.w': [1, 2] }, [B]: { 'h.1.w': [3], 'lm_head': [4] } }, { 'h.0.w': A, 'h.1.w': B, 'lm_head': B });
    const idx = openSafetensorsIndex(d);
    assert.deepEqual(idx.names(), ['h.0.w', 'h.1.w', 'lm_head']);
    assert.deepEqual([...idx.read('h.0.w').data], [1, 2]);
    assert.deepEqual([...idx.read('lm_head').data], [4]);
    assert.equal(idx.shardOf('h.1.w'), B);
    assert.deepEqual(idx.info('h.1.w').shape, [1]);
    assert.equal(idx.raw('h.1.w').byteLength, 4);
    assert.deepEqual(idx.shards(), [A, B]);
    throwsCode(() => idx.read('h.0.ww'), 'tensor_not_found', /closest: "h\.0\.w"/);
    idx.close();
    // the index path itself is accepted too
    openSafetensorsIndex(path.join(d, 'model.safetensors.index.json')).close();
  });
  it('missing shard -> file_not_found naming it', () => {
    const d = folder({ [A]: { a: [1] } }, { a: A, b: B });
    throwsCode(() => openSafetensorsIndex(d), 'file_not_found', new RegExp(`shard "${B}" \\(holding 1 tensors\\) is missing`));
  });
  it('missing index -> file_not_found', () => {
    const d = path.join(root, 'empty');
    fs.mkdirSync(d);
    throwsCode(() => openSafetensorsIndex(d), 'file_not_found', /cannot read the shard index/);
  });
  it('a tensor stored in two shards -> duplicate_name', () => {
    const d = folder({ [A]: { a: [1], b: [9] }, [B]: { b: [2] } }, { a: A, b: B });
    throwsCode(() => openSafetensorsIndex(d), 'safetensors_duplicate_name', /tensor "b" is stored in two shards/);
  });
  it('a tensor listed twice in weight_map -> duplicate_name', () => {
    const d = folder({ [A]: { a: [1] }, [B]: { b: [2] } }, `{"weight_map":{"a":"${A}","b":"${B}","a":"${B}"}}`);
    throwsCode(() => openSafetensorsIndex(d), 'safetensors_duplicate_name', /tensor "a" is listed twice/);
  });
  it('path traversal and non-plain shard names are rejected before any file is opened', () => {
    const bad = ['../x.safetensors', '/etc/x.safetensors', 'sub/x.safetensors', 'sub\\x.safetensors', '..', '', 'C:x.safetensors', 'x\0.safetensors'];
    for (const shard of bad) {
      const d = folder({}, { w: shard });
      throwsCode(() => openSafetensorsIndex(d), 'safetensors_invalid_index', /not a plain file name/);
    }
    throwsCode(() => openSafetensorsIndex(folder({}, { w: 'x.json' })), 'safetensors_invalid_index', /not a \.safetensors file/);
    throwsCode(() => openSafetensorsIndex(folder({}, { w: 'pytorch_model-00001.bin' })), 'unsafe_format');
  });
  it('a tensor listed in the index but absent from its shard -> invalid_index', () => {
    const d = folder({ [A]: { a: [1] }, [B]: { b: [2] } }, { a: A, b: B, c: B });
    throwsCode(() => openSafetensorsIndex(d), 'safetensors_invalid_index', /tensor "c" is listed in shard ".*00002.*" but that shard does not hold it/);
  });
  it('a tensor in the wrong shard or unlisted -> invalid_index', () => {
    throwsCode(() => openSafetensorsIndex(folder({ [A]: { a: [1], b: [2] } }, { a: A })), 'safetensors_invalid_index', /holds tensor "b", which the index does not list/);
    throwsCode(() => openSafetensorsIndex(folder({ [A]: { a: [1] }, [B]: { b: [2] } }, { a: B, b: B })), 'safetensors_invalid_index', /holds tensor "a", which the index does not list|"a" is listed in shard/);
  });
  it('malformed index JSON or schema -> invalid_index', () => {
    throwsCode(() => openSafetensorsIndex(folder({}, '{"weight_map":')), 'safetensors_invalid_index', /not valid JSON/);
    throwsCode(() => openSafetensorsIndex(folder({}, '{"metadata":{}}')), 'safetensors_invalid_index', /missing "weight_map"/);
    throwsCode(() => openSafetensorsIndex(folder({}, '{"weight_map":{"a":1}}')), 'safetensors_invalid_index', /must be a file name string/);
  });
  it('a corrupt shard surfaces the shard error', () => {
    const d = folder({ [A]: { a: [1] } }, { a: A });
    fs.appendFileSync(path.join(d, A), 'junk');
    throwsCode(() => openSafetensorsIndex(d), 'safetensors_incomplete_buffer', /00001-of-00002\.safetensors: .*4 trailing bytes/);
  });
});
