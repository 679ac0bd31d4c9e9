// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Golden corpus for the strict safetensors reader: one test per malformed case S1-S15 of RELIABILITY.md
 * §1.1, the TypeScript-specific cases (duplicates, 2^53+, __proto__, misalignment, subarray bounds), the
 * accepted edge cases, and byte-exact agreement with the reference writer's unit-test vectors.
 * Non-goals: random testing (safetensors-property.test.ts), sharded folders (safetensors-index.test.ts).
 */

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { openSafetensors, parseSafetensorsBytes, readSafetensorsHeader } from '../../src/formats/safetensors.js';
import { decodeToFloat32 } from '../../src/formats/safetensors-dtypes.js';
import { serializeSafetensorsToBytes, writeSafetensorsSync } from '../../src/formats/safetensors-write.js';
import { f32Bytes, image, padded, tempDir, throwsCode, writeTo } from './safetensors-fixtures.js';

const dir = tempDir();
/** Writes `bytes` to a file and opens it with the file reader. */
const openBytes = (bytes: Uint8Array, name = 'model.safetensors') => openSafetensors(writeTo(dir, name, bytes));
const t = (name: string, dtype: string, shape: unknown, offs: unknown): string =>
  `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offs)}}`;
const hdr = (...entries: string[]): string => padded(`{${entries.join(',')}}`);

describe('safetensors S1-S3: length prefix', () => {
  it('S1 empty file and 7-byte file -> header_too_small', () => {
    throwsCode(() => openBytes(new Uint8Array(0)), 'safetensors_header_too_small', /model\.safetensors/, /0 bytes/);
    throwsCode(() => openBytes(new Uint8Array(7)), 'safetensors_header_too_small', /7 bytes/);
  });
  it('S2 header length above 100,000,000 -> header_too_large (reference vector and boundary)', () => {
    const ref = Buffer.from('<\0\0\0\0\xff\xff\xff{"test":{}}', 'latin1');
    throwsCode(() => openBytes(ref), 'safetensors_header_too_large', /exceeds the 100000000-byte limit/);
    throwsCode(() => openBytes(image('{}', 0, 100_000_001n)), 'safetensors_header_too_large', /100000001/);
    throwsCode(() => openBytes(image('{}', 0, 2n ** 64n - 1n)), 'safetensors_header_too_large');
    // exactly the limit is not "too large": it fails the next check instead
    throwsCode(() => openBytes(image('{}', 0, 100_000_000n)), 'safetensors_invalid_header_length');
  });
  it('S3 header length past the end of the file -> invalid_header_length', () => {
    throwsCode(() => openBytes(Buffer.from('<\0\0\0\0\0\0\0', 'latin1')), 'safetensors_invalid_header_length', /60 \+ 8 exceeds the file size 8/);
    throwsCode(() => openBytes(image('{}  ', 0, 5n)), 'safetensors_invalid_header_length');
  });
});

describe('safetensors S4-S7, S13: header text', () => {
  it('S4 non-UTF-8 header -> invalid_header', () => {
    throwsCode(() => openBytes(Buffer.from('\x01\0\0\0\0\0\0\0\xff', 'latin1')), 'safetensors_invalid_header', /not valid UTF-8/);
    throwsCode(() => openBytes(image(Buffer.from('{"\xc0\xaf":1}', 'latin1'))), 'safetensors_invalid_header', /UTF-8/); // overlong '/'
  });
  it('S5 not JSON -> invalid_header', () => {
    throwsCode(() => openBytes(Buffer.from('\x01\0\0\0\0\0\0\0{', 'latin1')), 'safetensors_invalid_header', /not valid JSON/);
    throwsCode(() => openBytes(image('{"a":{"dtype":"F32",}}')), 'safetensors_invalid_header', /not valid JSON/);
  });
  it('S5 schema mismatches -> invalid_header naming the tensor', () => {
    const cases: Array<[string, RegExp]> = [
      [hdr(t('w', 'F33', [1], [0, 4])), /tensor "w": unknown dtype "F33" \(did you mean F32/],
      [hdr(t('w', 'F32', [1], [0, 4, 8])), /tensor "w": data_offsets must be an array of exactly two/],
      [hdr(t('w', 'F32', [1], [-1, 4])), /tensor "w": data_offsets must hold non-negative integers, got -1/],
      [hdr(t('w', 'F32', [1], [0, 4.0])).replace('4]', '4.0]'), /got 4\.0/],
      [hdr(t('w', 'F32', [1], [0, 4])).replace('[0,4]', '[0,4e0]'), /got 4e0/],
      [hdr(t('w', 'F32', ['1'], [0, 4])), /tensor "w": shape must hold non-negative integers, got "1"/],
      [hdr(t('w', 'F32', 1, [0, 4])), /tensor "w": shape must be an array/],
      [hdr('"__metadata__":{"format":1}'), /"__metadata__" value for "format" must be a string, got number/],
      [hdr('"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":0}'), /tensor "w": unknown field "extra"/],
      [hdr('"w":{"dtype":"F32","shape":[1]}'), /tensor "w": missing one of/],
      [hdr('"w":[1,2]'), /tensor "w": entry must be an object/],
      [hdr('"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}'), /duplicate key "dtype"/],
      [hdr('"__metadata__":{"a":"x","a":"y"}'), /duplicate key "a"/],
    ];
    for (const [h, re] of cases) throwsCode(() => openBytes(image(h, 4)), 'safetensors_invalid_header', re);
  });
  it('S5 known-but-unsupported dtypes -> unsupported_dtype', () => {
    throwsCode(() => openBytes(image(hdr(t('w', 'F4', [2], [0, 1])), 1)), 'safetensors_unsupported_dtype', /tensor "w" has dtype F4/);
  });
  it('S6 header must start with "{" (leading space, BOM, array)', () => {
    throwsCode(() => openBytes(image(' {}     ')), 'safetensors_invalid_header', /must start with '\{' but starts with byte 0x20/);
    throwsCode(() => openBytes(image('\ufeff{}  ')), 'safetensors_invalid_header', /must start with '\{'/);
    throwsCode(() => openBytes(image('[]      ')), 'safetensors_invalid_header', /must start with '\{'/);
  });
  it('S7 padding must be JSON whitespace: NUL rejected, spaces/tabs/CR/LF accepted', () => {
    throwsCode(() => openBytes(image('{}\0\0\0\0\0\0')), 'safetensors_invalid_header', /U\+0000 after the JSON value/);
    throwsCode(() => openBytes(image('{}  x   ')), 'safetensors_invalid_header', /'x'/);
    assert.deepEqual(openBytes(image('{}\t\r\n   ')).names(), []);
  });
  it('S13 duplicate tensor name -> duplicate_name (JSON.parse would silently keep the last)', () => {
    const h = hdr(t('w', 'F32', [1], [0, 4]), t('w', 'F32', [1], [4, 8]));
    assert.equal(Object.keys(JSON.parse(h)).length, 1); // the differential we guard against
    throwsCode(() => openBytes(image(h, 8)), 'safetensors_duplicate_name', /tensor name "w" appears twice/);
  });
});

describe('safetensors S8-S12, S14-S15: offsets and sizes', () => {
  it('S8 ten tensors aliasing one region (json attack) -> invalid_offset', () => {
    const entries = Array.from({ length: 10 }, (_, i) => t(`weight_${i}`, 'F32', [2, 2], [0, 16]));
    throwsCode(() => openBytes(image(hdr(...entries), 16)), 'safetensors_invalid_offset', /overlaps "weight_\d" which ends at 16/);
  });
  it('S8 first tensor not at 0, gap, overlap -> invalid_offset', () => {
    throwsCode(() => openBytes(image(hdr(t('a', 'F32', [1], [4, 8])), 8)), 'safetensors_invalid_offset', /tensor "a" data_offsets \[4, 8\] leaves a gap: it should start at 0/);
    throwsCode(() => openBytes(image(hdr(t('a', 'F32', [1], [0, 4]), t('b', 'F32', [1], [8, 12])), 12)), 'safetensors_invalid_offset', /"b".*should start at 4, where "a" ends/);
    throwsCode(() => openBytes(image(hdr(t('a', 'F32', [2], [0, 8]), t('b', 'F32', [2], [4, 12])), 12)), 'safetensors_invalid_offset', /"b".*overlaps "a"/);
  });
  it('S9 END < BEGIN -> invalid_offset', () => {
    throwsCode(() => openBytes(image(hdr(t('a', 'F32', [1], [0, 4]), t('b', 'F32', [0], [4, 0])), 4)), 'safetensors_invalid_offset', /END 0 is before BEGIN 4/);
  });
  it('S10 size mismatch -> invalid_info with file, tensor, offsets, dtype, shape, need', () => {
    throwsCode(() => openBytes(image(hdr(t('test', 'I32', [2, 2], [0, 4])), 4)), 'safetensors_invalid_info', /hold 4 bytes but I32 \[2, 2\] needs 16/);
    const e = throwsCode(() => openBytes(image(hdr(t('h.0.attn.c_attn.weight', 'F32', [2, 2], [0, 12])), 12)), 'safetensors_invalid_info');
    assert.match(e.message, /model\.safetensors: tensor "h\.0\.attn\.c_attn\.weight" data_offsets \[0, 12\] hold 12 bytes but F32 \[2, 2\] needs 16$/);
  });
  it('S11 overflow: reference vectors, 2^53, products and byte sizes -> overflow, never rounded', () => {
    throwsCode(() => openBytes(image(hdr(t('test', 'I32', [2, '18446744073709551614'], [0, 4])).replace('"18446744073709551614"', '18446744073709551614'), 4)),
      'safetensors_overflow', /shape value 18446744073709551614 exceeds 2\^53 - 1/);
    throwsCode(() => openBytes(image(hdr(t('test', 'I32', [2, 1], [0, 4])).replace('[2,1]', '[2,9223372036854775807]'), 4)), 'safetensors_overflow');
    throwsCode(() => openBytes(image(hdr(t('x', 'U8', [1], [0, 4])).replace('[0,4]', '[0,9007199254740992]'), 4)), 'safetensors_overflow', /data_offsets value 9007199254740992/);
    throwsCode(() => openBytes(image(hdr(t('x', 'U8', [2 ** 27, 2 ** 27], [0, 4])), 4)), 'safetensors_overflow', /element count/);
    throwsCode(() => openBytes(image(hdr(t('x', 'F64', [2 ** 50], [0, 4])), 4)), 'safetensors_overflow', /byte size/);
    // 2^53 - 1 is representable: it parses, then fails the size check (no rounding to 2^53)
    throwsCode(() => openBytes(image(hdr(t('x', 'U8', [Number.MAX_SAFE_INTEGER], [0, 4])), 4)), 'safetensors_invalid_info', /needs 9007199254740991/);
  });
  it('S12 trailing bytes (polyglot) and missing bytes (truncation) -> incomplete_buffer', () => {
    const good = image(hdr(t('test', 'I32', [2, 2], [0, 16])), 16);
    const poly = Buffer.concat([good, Buffer.from('extra_bogus_data_for_polyglot_file')]);
    throwsCode(() => openBytes(poly), 'safetensors_incomplete_buffer', /34 trailing bytes/);
    throwsCode(() => openBytes(good.subarray(0, good.byteLength - 2)), 'safetensors_incomplete_buffer', /2 bytes are missing/);
    assert.deepEqual(openBytes(good).names(), ['test']);
  });
  it('S14 tied weights sharing one region -> invalid_offset', () => {
    throwsCode(() => openBytes(image(hdr(t('wte', 'F32', [2], [0, 8]), t('lm_head', 'F32', [2], [0, 8])), 8)), 'safetensors_invalid_offset', /overlaps/);
  });
  it('S15 unknown name -> tensor_not_found listing close names', () => {
    const f = openBytes(image(hdr(t('h.0.attn.weight', 'F32', [1], [0, 4]), t('h.0.mlp.weight', 'F32', [1], [4, 8])), 8));
    throwsCode(() => f.read('h.0.attn.weigth'), 'tensor_not_found', /no tensor named "h\.0\.attn\.weigth"; closest: "h\.0\.attn\.weight"/);
    throwsCode(() => f.info('toString'), 'tensor_not_found');
    f.close();
  });
});

describe('safetensors TypeScript-specific cases', () => {
  it('__proto__ and constructor are ordinary tensor names, no prototype pollution', () => {
    const h = hdr(t('__proto__', 'F32', [1], [0, 4]), t('constructor', 'F32', [1], [4, 8]), '"__metadata__":{"__proto__":"x"}');
    const f = openBytes(image(h, f32Bytes([1.5, -2])));
    assert.deepEqual(f.names().sort(), ['__proto__', 'constructor']);
    assert.deepEqual([...f.read('__proto__').data], [1.5]);
    assert.deepEqual([...f.read('constructor').data], [-2]);
    assert.equal(f.metadata?.get('__proto__'), 'x');
    assert.equal(({} as Record<string, unknown>)['dtype'], undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
    f.close();
  });
  it('misaligned data (header length not a multiple of 4 or 2) is read correctly by copying', () => {
    const values = [1, -2.5, 3.25, 1e-3, 65504];
    for (const extra of [0, 1, 2, 3]) {
      const json = `{${t('x', 'F32', [5], [0, 20])},${t('y', 'F16', [1], [20, 22])}}` + ' '.repeat(extra);
      const bytes = image(json, Buffer.concat([f32Bytes(values), Buffer.from([0x00, 0x3c])]));
      for (const f of [openBytes(bytes), parseSafetensorsBytes(bytes, 'mem')]) {
        assert.deepEqual([...f.read('x').data], values.map(Math.fround), `extra=${extra}`);
        assert.deepEqual([...f.read('y').data], [1]);
        f.close();
      }
    }
  });
  it('decodeToFloat32 copies misaligned views instead of assuming alignment', () => {
    const backing = new Uint8Array(1 + 8);
    backing.set([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x00], 1); // F16 1, -2 | BF16 1, 0
    assert.deepEqual([...decodeToFloat32('F16', backing.subarray(1, 5), 2)], [1, -2]);
    assert.deepEqual([...decodeToFloat32('BF16', backing.subarray(5, 9), 2)], [1, 0]);
    backing.set(f32Bytes([2.5, -1]), 1);
    assert.deepEqual([...decodeToFloat32('F32', backing.subarray(1, 9), 2)], [2.5, -1]);
  });
  it('subarray bounds: an in-memory view is judged by its own length, not its backing buffer', () => {
    const good = image(hdr(t('a', 'F32', [2], [0, 8])), f32Bytes([7, 8]));
    const backing = new Uint8Array(good.byteLength + 16);
    backing.set(good, 5);
    const view = backing.subarray(5, 5 + good.byteLength);
    assert.deepEqual([...parseSafetensorsBytes(view).read('a').data], [7, 8]);
    throwsCode(() => parseSafetensorsBytes(backing.subarray(5, 5 + good.byteLength - 1)), 'safetensors_incomplete_buffer', /1 bytes are missing/);
  });
  it('a file truncated after open is reported, not silently zero-filled', () => {
    const p = writeTo(dir, 'shrink.safetensors', image(hdr(t('a', 'F32', [4], [0, 16])), 16));
    const f = openSafetensors(p);
    fs.truncateSync(p, 20);
    throwsCode(() => f.read('a'), 'safetensors_incomplete_buffer', /truncated after it was opened/);
    f.close();
  });
});

describe('safetensors accepted edge cases', () => {
  it('empty header {} with space padding (reference test_empty bytes)', () => {
    const f = openBytes(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    assert.deepEqual(f.names(), []);
    assert.equal(f.metadata, null);
    f.close();
  });
  it('zero-element tensors [2,0] at [s,s], even sharing a start with the next tensor', () => {
    const h = hdr(t('z0', 'F32', [2, 0], [0, 0]), t('a', 'F32', [1], [0, 4]), t('z1', 'BF16', [0], [4, 4]));
    const f = openBytes(image(h, f32Bytes([3])));
    assert.deepEqual(f.info('z0').shape, [2, 0]);
    assert.equal(f.read('z0').data.length, 0);
    assert.equal(f.read('z1').data.length, 0);
    assert.deepEqual([...f.read('a').data], [3]);
    f.close();
  });
  it('rank-0 tensors hold exactly one element', () => {
    const f = openBytes(image(hdr(t('s', 'F32', [], [0, 4])), f32Bytes([42])));
    const r = f.read('s');
    assert.deepEqual(r.shape, []);
    assert.deepEqual([...r.data], [42]);
    f.close();
  });
  it('NaN and Inf values are not checked by the reader', () => {
    const f = openBytes(image(hdr(t('v', 'F32', [3], [0, 12])), f32Bytes([NaN, Infinity, -Infinity])));
    assert.deepEqual([...f.read('v').data], [NaN, Infinity, -Infinity]);
    f.close();
  });
});

describe('safetensors API and reference writer vectors', () => {
  it('info, raw, metadata, names in offset order, readSafetensorsHeader, close', () => {
    const h = hdr('"__metadata__":{"format":"pt"}', t('b', 'I8', [2], [4, 6]), t('a', 'F32', [1], [0, 4]));
    const p = writeTo(dir, 'api.safetensors', image(h, Buffer.concat([f32Bytes([1]), Buffer.from([0xff, 0x05])])));
    const f = openSafetensors(p);
    assert.deepEqual(f.names(), ['a', 'b']);
    assert.deepEqual(f.info('b'), { name: 'b', dtype: 'I8', shape: [2], dataOffsets: [4, 6], fileOffset: 8 + Buffer.byteLength(h) + 4, byteLength: 2, numel: 2 });
    assert.deepEqual([...f.raw('b')], [0xff, 0x05]);
    assert.deepEqual([...f.read('b').data], [-1, 5]);
    assert.equal(f.metadata?.get('format'), 'pt');
    assert.equal(readSafetensorsHeader(p).tensors.size, 2);
    f.close();
    throwsCode(() => f.read('a'), 'invalid_argument', /closed/);
    throwsCode(() => openSafetensors(`${dir}/nope.safetensors`), 'file_not_found', /nope\.safetensors.*ENOENT/);
    throwsCode(() => openSafetensors(dir), 'file_not_found', /not a regular file/);
  });
  it('integer and F64 dtypes widen to numbers', () => {
    const data = new Uint8Array(8 + 8 + 4 + 2 + 1 + 1);
    const dv = new DataView(data.buffer);
    dv.setFloat64(0, -0.5, true);
    dv.setBigInt64(8, -3n, true);
    dv.setInt32(16, -70000, true);
    dv.setUint16(20, 65535, true);
    dv.setUint8(22, 200);
    dv.setUint8(23, 1);
    const h = hdr(t('f', 'F64', [], [0, 8]), t('i', 'I64', [], [8, 16]), t('j', 'I32', [], [16, 20]), t('u', 'U16', [], [20, 22]), t('b', 'U8', [], [22, 23]), t('o', 'BOOL', [], [23, 24]));
    const f = parseSafetensorsBytes(image(h, data));
    assert.deepEqual(['f', 'i', 'j', 'u', 'b', 'o'].map((n) => f.read(n).data[0]), [-0.5, -3, -70000, 65535, 200, 1]);
  });
  it('writer output equals the reference serialize() vectors byte for byte', () => {
    const six = [0, 1, 2, 3, 4, 5];
    const expected1 = [64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
      58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
      0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
    assert.deepEqual([...serializeSafetensorsToBytes([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: six }])], expected1);
    const out2 = serializeSafetensorsToBytes([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data: six }]);
    assert.equal(out2[0], 72);
    assert.deepEqual([...out2.subarray(8 + 65, 8 + 72)], [32, 32, 32, 32, 32, 32, 32]);
    assert.deepEqual([...serializeSafetensorsToBytes([])], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const meta = serializeSafetensorsToBytes([], { framework: 'pt' });
    assert.equal(Buffer.from(meta).toString('latin1'), '(\0\0\0\0\0\0\0{"__metadata__":{"framework":"pt"}}     ');
  });
  it('writer sorts by descending dtype alignment then name, and writes the file', () => {
    const p = `${dir}/sorted.safetensors`;
    writeSafetensorsSync(p, new Map([
      ['b8', { dtype: 'U8' as const, shape: [1], data: [1] }],
      ['z32', { dtype: 'F32' as const, shape: [1], data: [2] }],
      ['a32', { dtype: 'F32' as const, shape: [1], data: [3] }],
      ['h', { dtype: 'BF16' as const, shape: [1], data: [4] }],
    ]), { note: 'x' });
    const f = openSafetensors(p);
    assert.deepEqual(f.names(), ['a32', 'z32', 'h', 'b8']);
    assert.equal(f.header.dataStart % 8, 0);
    assert.equal(f.metadata?.get('note'), 'x');
    f.close();
  });
  it('writer rejects bad input with typed errors', () => {
    throwsCode(() => serializeSafetensorsToBytes([{ name: 'a', dtype: 'F32', shape: [2], data: [1] }]), 'invalid_argument', /1 values given but shape \[2\] has 2/);
    throwsCode(() => serializeSafetensorsToBytes([{ name: 'a', dtype: 'I8', shape: [1], data: [200] }]), 'invalid_argument', /value 200 at index 0 does not fit I8/);
    throwsCode(() => serializeSafetensorsToBytes([{ name: 'a', dtype: 'F32', shape: [1], data: [1] }, { name: 'a', dtype: 'F32', shape: [1], data: [1] }]), 'safetensors_duplicate_name');
    throwsCode(() => serializeSafetensorsToBytes([{ name: '__metadata__', dtype: 'F32', shape: [1], data: [1] }]), 'invalid_argument', /reserved/);
    throwsCode(() => serializeSafetensorsToBytes([{ name: 'x\ud800', dtype: 'F32', shape: [1], data: [1] }]), 'invalid_argument', /surrogate/);
    throwsCode(() => serializeSafetensorsToBytes([{ name: 'a', dtype: 'F8_E4M3', shape: [1], data: [1] }]), 'safetensors_unsupported_dtype');
  });
});
