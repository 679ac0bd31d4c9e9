// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Refusal of pickle-based formats by content: raw pickles (protocols 0-5, legacy torch), PyTorch zip
 * checkpoints (archive/data.pkl), npy/npz, a pickle renamed to model.safetensors, and weight-folder discovery.
 * Non-goals: safetensors structural checks (safetensors.test.ts).
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { LlmdbgError } from '../../src/errors.js';
import { openSafetensors } from '../../src/formats/safetensors.js';
import { serializeSafetensorsToBytes } from '../../src/formats/safetensors-write.js';
import { assertNotPickle, detectUnsafeFormat, findWeightFiles } from '../../src/formats/unsafe-formats.js';
import { tempDir, throwsCode, writeTo } from './safetensors-fixtures.js';

const dir = tempDir('llmdbg-unsafe-');
const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** A minimal stored (uncompressed) zip with the given entries; CRCs are left at 0, which sniffing ignores. */
function zip(entries: Record<string, Uint8Array>, padding = 0): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, Buffer.from(name), Buffer.from(data));
    central.push(cd, Buffer.from(name));
    offset += 30 + name.length + data.length;
  }
  const cdBuf = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt32LE(cdBuf.length, 12);
  eocd.writeUInt32LE(offset + padding, 16);
  return Buffer.concat([...parts, Buffer.alloc(padding), cdBuf, eocd]);
}

const PICKLES: Record<string, string> = {
  'protocol 2 dict': '\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01u.',
  'protocol 4 frame': '\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.',
  'protocol 5': '\x80\x05\x95\x02\x00\x00\x00\x00\x00\x00\x00N.',
  'legacy torch magic': '\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.',
  'protocol 0 dict': "(dp0\nS'a'\np1\nI1\ns.",
  'protocol 0 global': 'ccollections\nOrderedDict\np0\n(tRp1\n.',
  'protocol 1 dict': '}q\x00(U\x01aq\x01K\x01u.',
};

describe('detectUnsafeFormat', () => {
  it('recognises raw pickles of every protocol', () => {
    for (const [what, s] of Object.entries(PICKLES)) assert.equal(detectUnsafeFormat(bytes(s))?.kind, 'pickle', what);
  });
  it('recognises PyTorch zips, npz, other zips and npy', () => {
    assert.equal(detectUnsafeFormat(zip({ 'archive/data.pkl': bytes(PICKLES['protocol 2 dict']!), 'archive/data/0': new Uint8Array(16) }))?.kind, 'pytorch_zip');
    assert.equal(detectUnsafeFormat(zip({ 'a.npy': bytes('\x93NUMPY\x01\x00') }))?.kind, 'npz');
    assert.equal(detectUnsafeFormat(zip({ 'readme.txt': bytes('hi') }))?.kind, 'zip');
    assert.equal(detectUnsafeFormat(bytes("\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"))?.kind, 'npy');
  });
  it('finds data.pkl in the central directory at the end of a large zip (head + tail sniffing)', () => {
    const z = zip({ 'archive/data/0': new Uint8Array(200_000), 'archive/data.pkl': bytes('\x80\x02}.') });
    assert.ok(!Buffer.from(z.subarray(0, 65536)).includes('data.pkl'));
    assert.equal(detectUnsafeFormat(z.subarray(0, 65536), z.subarray(z.length - 65536))?.kind, 'pytorch_zip');
  });
  it('does not flag safetensors files whose length prefix starts with 0x80 0x02 (N = 640)', () => {
    const name = 'x'.repeat(640 - '{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'.length);
    const st = serializeSafetensorsToBytes([{ name, dtype: 'F32', shape: [1], data: [1] }]);
    assert.deepEqual([...st.subarray(0, 3)], [0x80, 0x02, 0x00]);
    assert.equal(detectUnsafeFormat(st), null);
    const p = writeTo(dir, 'n640.safetensors', st);
    assertNotPickle(p);
    assert.deepEqual([...openSafetensors(p).read(name).data], [1]);
  });
  it('returns null for text, empty input and random safetensors-free bytes', () => {
    assert.equal(detectUnsafeFormat(new Uint8Array(0)), null);
    assert.equal(detectUnsafeFormat(bytes('{"hello": 1}')), null);
    assert.equal(detectUnsafeFormat(bytes('GGUF\x03\x00\x00\x00')), null);
  });
});

describe('the safetensors reader refuses unsafe content by content, not name', () => {
  it('a pickle renamed to model.safetensors -> unsafe_format (not a header error)', () => {
    for (const [what, s] of Object.entries(PICKLES)) {
      const e = throwsCode(() => openSafetensors(writeTo(dir, 'model.safetensors', bytes(s))), 'unsafe_format', /model\.safetensors: this is a Python pickle/);
      assert.match(e.hint ?? '', /safetensors\.torch\.save_file/, what);
      assert.ok(e.cause instanceof LlmdbgError && e.cause.code.startsWith('safetensors_'), 'the structural error is kept as the cause');
    }
  });
  it('a PyTorch zip checkpoint renamed to .safetensors -> unsafe_format naming data.pkl', () => {
    const p = writeTo(dir, 'renamed.safetensors', zip({ 'archive/data.pkl': bytes('\x80\x02}.'), 'archive/data/0': new Uint8Array(8) }));
    throwsCode(() => openSafetensors(p), 'unsafe_format', /PyTorch zip checkpoint \(contains a pickle, data\.pkl\)/);
  });
  it('an npy renamed to .safetensors -> unsafe_format', () => {
    throwsCode(() => openSafetensors(writeTo(dir, 'arr.safetensors', bytes('\x93NUMPY\x01\x00v\x00{}'))), 'unsafe_format', /NumPy \.npy/);
  });
  it('assertNotPickle: content, then extension; unreadable -> file_not_found', () => {
    throwsCode(() => assertNotPickle(writeTo(dir, 'weights.data', bytes(PICKLES['protocol 4 frame']!))), 'unsafe_format', /pickle \(protocol 4\)/);
    throwsCode(() => assertNotPickle(writeTo(dir, 'w.bin', bytes('opaque bytes'))), 'unsafe_format', /\.bin file/);
    throwsCode(() => assertNotPickle(path.join(dir, 'missing.pt')), 'file_not_found');
    assertNotPickle(writeTo(dir, 'ok.safetensors', serializeSafetensorsToBytes([])));
  });
});

describe('findWeightFiles', () => {
  const make = (files: Record<string, Uint8Array | string>): string => {
    const d = fs.mkdtempSync(path.join(dir, 'f-'));
    for (const [f, b] of Object.entries(files)) fs.writeFileSync(path.join(d, f), b);
    return d;
  };
  const st = serializeSafetensorsToBytes([]);
  it('prefers model.safetensors, then the index, then a single other .safetensors', () => {
    let d = make({ 'model.safetensors': st, 'pytorch_model.bin': 'x', 'model.safetensors.index.json': '{}' });
    assert.deepEqual(findWeightFiles(d), { kind: 'single', path: path.join(d, 'model.safetensors') });
    d = make({ 'model.safetensors.index.json': '{}', 'model-00001-of-00001.safetensors': st });
    assert.deepEqual(findWeightFiles(d), { kind: 'sharded', indexPath: path.join(d, 'model.safetensors.index.json') });
    d = make({ 'gpt2-tiny.safetensors': st, 'config.json': '{}' });
    assert.deepEqual(findWeightFiles(d), { kind: 'single', path: path.join(d, 'gpt2-tiny.safetensors') });
    assert.deepEqual(findWeightFiles(path.join(d, 'gpt2-tiny.safetensors')), { kind: 'single', path: path.join(d, 'gpt2-tiny.safetensors') });
  });
  it('a folder with only pickle checkpoints -> unsafe_format naming them', () => {
    throwsCode(() => findWeightFiles(make({ 'pytorch_model.bin': bytes(PICKLES['protocol 2 dict']!), 'config.json': '{}' })), 'unsafe_format', /pytorch_model\.bin/);
    throwsCode(() => findWeightFiles(make({ 'model.ckpt': 'x', 'extra.pth': 'y' })), 'unsafe_format', /extra\.pth, model\.ckpt/);
  });
  it('nothing usable, ambiguity, or no folder -> file_not_found', () => {
    throwsCode(() => findWeightFiles(make({ 'config.json': '{}' })), 'file_not_found', /found: config\.json/);
    throwsCode(() => findWeightFiles(make({ 'a.safetensors': st, 'b.safetensors': st })), 'file_not_found', /several candidate weight files.*a\.safetensors, b\.safetensors/);
    throwsCode(() => findWeightFiles(path.join(dir, 'nope')), 'file_not_found', /no such model folder/);
  });
});
