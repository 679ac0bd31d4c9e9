// test-backends: once (host code only: no tfjs backend is involved; see test/run.mjs)
/**
 * Randomised tests for safetensors: F16/BF16 known bit patterns and rounding against an independent
 * reference, fast-check write -> read roundtrips (F32/F16/BF16, ranks 0-4, dims 0-5, odd unicode names), and a
 * byte-mutation fuzzer whose oracle is "succeeds or throws LlmdbgError, nothing else, never hangs".
 * Non-goals: the hand-written malformed corpus (safetensors.test.ts).
 */

import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LlmdbgError } from '../../src/errors.js';
import { openSafetensors, parseSafetensorsBytes, type SafetensorsFile } from '../../src/formats/safetensors.js';
import { bf16BitsToFloat, f16BitsToFloat, floatToBf16Bits, floatToF16Bits } from '../../src/formats/safetensors-dtypes.js';
import { serializeSafetensorsToBytes, writeSafetensorsSync, type TensorToWrite } from '../../src/formats/safetensors-write.js';
import { tempDir, writeTo } from './safetensors-fixtures.js';

const dir = tempDir();

/** Independent reference: round a float32 value to a binary float with `mant` stored bits, ties to even. */
function roundRef(x: number, mant: number, minExp: number, maxFinite: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, minExp) - mant);
  const q = a / ulp;
  let r = Math.floor(q);
  if (q - r > 0.5 || (q - r === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  return Math.sign(x) * (v > maxFinite ? Infinity : v) || (x < 0 ? -0 : 0);
}
const f16Ref = (x: number): number => roundRef(x, 10, -14, 65504);
const bf16Ref = (x: number): number => roundRef(x, 7, -126, (2 - 2 ** -7) * 2 ** 127);
const sameNum = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

describe('F16 / BF16 conversions', () => {
  it('decodes known F16 bit patterns', () => {
    assert.equal(f16BitsToFloat(0x3c00), 1);
    assert.equal(f16BitsToFloat(0xc000), -2);
    assert.equal(f16BitsToFloat(0x7c00), Infinity);
    assert.equal(f16BitsToFloat(0xfc00), -Infinity);
    assert.equal(f16BitsToFloat(0x0001), 5.960464477539063e-8);
    assert.equal(f16BitsToFloat(0x03ff), 6.097555160522461e-5);
    assert.equal(f16BitsToFloat(0x0400), 6.103515625e-5);
    assert.equal(f16BitsToFloat(0x7bff), 65504);
    assert.equal(f16BitsToFloat(0x3555), 0.333251953125);
    assert.ok(Object.is(f16BitsToFloat(0x8000), -0));
    for (const nan of [0x7e00, 0x7c01, 0xfe00, 0xffff]) assert.ok(Number.isNaN(f16BitsToFloat(nan)), nan.toString(16));
  });
  it('decodes known BF16 bit patterns', () => {
    assert.equal(bf16BitsToFloat(0x3f80), 1);
    assert.equal(bf16BitsToFloat(0xc000), -2);
    assert.equal(bf16BitsToFloat(0x7f80), Infinity);
    assert.equal(bf16BitsToFloat(0xff80), -Infinity);
    assert.equal(bf16BitsToFloat(0x0001), 2 ** -133);
    assert.equal(bf16BitsToFloat(0x3eab), 0.333984375);
    assert.ok(Object.is(bf16BitsToFloat(0x8000), -0));
    for (const nan of [0x7fc0, 0x7f81, 0xffc1]) assert.ok(Number.isNaN(bf16BitsToFloat(nan)), nan.toString(16));
  });
  it('encodes with round-to-nearest-even at ties, overflow and subnormals', () => {
    assert.equal(floatToF16Bits(1 + 2 ** -11), 0x3c00); // tie -> even
    assert.equal(floatToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
    assert.equal(floatToF16Bits(65519), 0x7bff);
    assert.equal(floatToF16Bits(65520), 0x7c00);
    assert.equal(floatToF16Bits(2 ** -25), 0x0000);
    assert.equal(floatToF16Bits(3 * 2 ** -25), 0x0002);
    assert.equal(floatToF16Bits(-0), 0x8000);
    assert.equal(floatToF16Bits(NaN) & 0x7e00, 0x7e00);
    assert.equal(floatToBf16Bits(1 + 2 ** -8), 0x3f80);
    assert.equal(floatToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(floatToBf16Bits(3.4028234663852886e38), 0x7f80);
    assert.ok(Number.isNaN(bf16BitsToFloat(floatToBf16Bits(NaN))));
  });
  it('agrees with an independent rounding reference on every F16 value and random float32s', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToFloat(h);
      if (!Number.isNaN(v)) assert.equal(floatToF16Bits(v), h, `0x${h.toString(16)}`);
    }
    fc.assert(fc.property(fc.float(), (x) => {
      assert.ok(sameNum(f16BitsToFloat(floatToF16Bits(x)), f16Ref(x)), `F16 ${x}`);
      assert.ok(sameNum(bf16BitsToFloat(floatToBf16Bits(x)), bf16Ref(x)), `BF16 ${x}`);
    }), { numRuns: 20000 });
  });
});

const dtypeArb = fc.constantFrom('F32' as const, 'F16' as const, 'BF16' as const);
const tensorArb = fc.record({
  name: fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'h.0.w', '')),
  dtype: dtypeArb,
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }),
}).chain((t) => fc.array(fc.float(), { minLength: t.shape.reduce((a, b) => a * b, 1), maxLength: t.shape.reduce((a, b) => a * b, 1) })
  .map((data): TensorToWrite => ({ ...t, data })));
const filesArb = fc.record({
  tensors: fc.uniqueArray(tensorArb, { selector: (t) => t.name, maxLength: 6 }).map((ts) => ts.filter((t) => t.name !== '__metadata__')),
  metadata: fc.option(fc.array(fc.tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 6 })), { maxLength: 3 }).map((e) => new Map(e)), { nil: undefined }),
});

function checkSame(f: SafetensorsFile, tensors: readonly TensorToWrite[], metadata: Map<string, string> | undefined): void {
  assert.deepEqual(new Set(f.names()), new Set(tensors.map((t) => t.name)));
  assert.equal(f.header.dataStart % 8, 0);
  assert.deepEqual(f.metadata === null ? undefined : [...f.metadata].sort(), metadata === undefined ? undefined : [...metadata].sort());
  for (const t of tensors) {
    const r = f.read(t.name);
    assert.equal(r.dtype, t.dtype);
    assert.deepEqual(r.shape, t.shape);
    const round = t.dtype === 'F16' ? f16Ref : t.dtype === 'BF16' ? bf16Ref : Math.fround;
    const want = Array.from(t.data!, round);
    assert.equal(r.data.length, want.length);
    r.data.forEach((v, i) => assert.ok(sameNum(v, want[i]!), `${t.dtype} ${JSON.stringify(t.name)}[${i}]: ${v} vs ${want[i]}`));
    const info = f.info(t.name);
    assert.equal(info.fileOffset % (t.dtype === 'F32' ? 4 : 2), 0, 'tensor data aligned to its dtype');
  }
}

describe('safetensors roundtrip properties', () => {
  it('write -> read in memory keeps names, shapes, dtypes and (rounded) values', () => {
    fc.assert(fc.property(filesArb, ({ tensors, metadata }) => {
      checkSame(parseSafetensorsBytes(serializeSafetensorsToBytes(tensors, metadata)), tensors, metadata);
    }), { numRuns: 300 });
  });
  it('write -> read through the crash-safe file writer and the fd reader', () => {
    let i = 0;
    fc.assert(fc.property(filesArb, ({ tensors, metadata }) => {
      const p = path.join(dir, `rt${i++ % 4}.safetensors`);
      writeSafetensorsSync(p, tensors, metadata, { fsync: false });
      const f = openSafetensors(p);
      try {
        checkSame(f, tensors, metadata);
      } finally {
        f.close();
      }
    }), { numRuns: 40 });
  });
});

function readAll(bytes: Uint8Array): void {
  try {
    const f = parseSafetensorsBytes(bytes, 'fuzz');
    for (const n of f.names()) {
      f.read(n);
      f.raw(n);
    }
  } catch (e) {
    if (!(e instanceof LlmdbgError)) throw new Error(`non-LlmdbgError thrown: ${String(e)}`, { cause: e });
  }
}

describe('safetensors byte-mutation fuzz', () => {
  const seed = serializeSafetensorsToBytes([
    { name: 'h.0.w', dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
    { name: 'h.0.b', dtype: 'F16', shape: [3], data: [1, -1, 0.5] },
    { name: 'e', dtype: 'BF16', shape: [0, 2], data: [] },
    { name: 's', dtype: 'I64', shape: [], data: [7] },
  ], { format: 'pt' });

  it('random mutations and truncations of a valid file: success or LlmdbgError only', { timeout: 20000 }, () => {
    let state = 0x9e3779b9;
    const rnd = (n: number): number => {
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
      return (state >>> 0) % n;
    };
    const digits = '0123456789-.e[]{}",: ';
    for (let iter = 0; iter < 4000; iter++) {
      let b: Uint8Array = Uint8Array.from(seed);
      const kind = rnd(6);
      if (kind === 0) for (let k = 1 + rnd(4); k > 0; k--) b[rnd(b.length)] = rnd(256);
      else if (kind === 1) b = b.subarray(0, rnd(b.length));
      else if (kind === 2) b = Buffer.concat([b, new Uint8Array(1 + rnd(16))]);
      else if (kind === 3) b[8 + rnd(b[0]!)] = digits.charCodeAt(rnd(digits.length)); // header-aware edit
      else if (kind === 4) b[rnd(8)] = rnd(256); // length prefix
      else { const at = rnd(b.length); b = Buffer.concat([b.subarray(0, at), Buffer.from([rnd(256)]), b.subarray(at)]); }
      readAll(b);
    }
  });
  it('arbitrary bytes and arbitrary headers: success or LlmdbgError only', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => readAll(b)), { numRuns: 1000 });
    fc.assert(fc.property(fc.json(), fc.nat(32), (json, pad) => {
      const h = Buffer.from(json);
      const b = new Uint8Array(8 + h.length + pad);
      new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
      b.set(h, 8);
      readAll(b);
    }), { numRuns: 1000 });
  });
  it('mutated files on disk go through the fd reader the same way', () => {
    for (let i = 0; i < 200; i++) {
      const b = Uint8Array.from(seed);
      b[(i * 7919) % b.length] ^= 1 << (i % 8);
      const p = writeTo(dir, 'fuzz.safetensors', b);
      try {
        openSafetensors(p).close();
      } catch (e) {
        assert.ok(e instanceof LlmdbgError, String(e));
      }
    }
  });
});
