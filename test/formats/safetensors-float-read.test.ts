/**
 * The float32 read path (`readAsFloat32`, used by `read()` and so by `loadModel`): F32 lands in
 * the result with the exact stored bits (NaN payloads, -0, subnormals), whatever the byte
 * alignment of the data in the file or buffer; F16/BF16 widened in place equal the per-element
 * decoders for all 65,536 bit patterns; a loaded model's weights hold the file's exact bits.
 * Non-goals: malformed files (safetensors.test.ts), writing (safetensors-write tests).
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { join } from 'node:path';
import { openSafetensors, parseSafetensorsBytes } from '../../src/formats/safetensors.js';
import { decodeToFloat32, readAsFloat32 } from '../../src/formats/safetensors-dtypes.js';
import { loadModel } from '../../src/model/model.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { useTestBackend } from '../helpers/backend.js';
import { image, tempDir, writeTo } from './safetensors-fixtures.js';

const dir = tempDir();
// Bit patterns a numeric round trip could alter: quiet/signalling NaNs with payloads, -0, subnormals, infinities.
const BITS = [0x3fc00000, 0x80000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x7fc00001, 0x7fa00000, 0xffbfffff, 0x7f7fffff, 0x12345678, 0xdeadbeef];

function bitsOf(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

/** Little-endian bytes of BITS, independent of the host's byte order. */
function leBytes(bits: number[]): Uint8Array {
  const out = new Uint8Array(4 * bits.length);
  const dv = new DataView(out.buffer);
  bits.forEach((b, i) => dv.setUint32(4 * i, b, true));
  return out;
}

describe('F32 reads keep the exact stored bits', () => {
  // JSON header lengths 1..4 past a multiple of 4 put the data buffer (8 + N) at every alignment;
  // a 1-element tensor first shifts the second tensor's offset too.
  for (const extra of [0, 1, 2, 3]) {
    it(`data buffer at file offset = ${extra} (mod 4), tensors at offsets 0 and 4`, () => {
      const data = leBytes([0x3f800000, ...BITS]);
      const json = `{"one":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[3,4],"data_offsets":[4,${data.byteLength}]}}`;
      const pad = (4 - ((8 + json.length) % 4) + extra) % 4;
      const bytes = image(json + ' '.repeat(pad), data);
      const dataStart = 8 + json.length + pad;
      assert.equal(dataStart % 4, extra);
      // the in-memory reader over an unaligned view of a larger buffer, and the file reader
      const backing = new Uint8Array(bytes.byteLength + 3);
      backing.set(bytes, 3);
      for (const f of [openSafetensors(writeTo(dir, `m${extra}.safetensors`, bytes)), parseSafetensorsBytes(backing.subarray(3), 'mem')]) {
        const x = f.read('x');
        assert.deepEqual(x.shape, [3, 4]);
        assert.deepEqual(bitsOf(x.data), BITS);
        // the same bits as the previous path (copy of the bytes, then decodeToFloat32)
        assert.deepEqual(bitsOf(x.data), bitsOf(decodeToFloat32('F32', f.raw('x'), 12)));
        assert.deepEqual(bitsOf(f.read('one').data), [0x3f800000]);
        assert.equal(x.data.byteOffset % 4, 0);
        f.close();
      }
    });
  }

  it('readAsFloat32 fills the result itself: one fill call, straight into the returned buffer (F32)', () => {
    let calls = 0;
    let target: ArrayBufferLike | undefined;
    const out = readAsFloat32('F32', 12, (dest) => {
      calls++;
      target = dest.buffer;
      dest.set(leBytes(BITS));
    });
    assert.equal(calls, 1);
    assert.equal(target, out.buffer, 'F32 must be read into the result, not into a temporary');
    assert.deepEqual(bitsOf(out), BITS);
  });
});

describe('F16/BF16 widen in place in one pass', () => {
  const all = new Uint8Array(2 * 65536);
  const dv = new DataView(all.buffer);
  for (let h = 0; h < 65536; h++) dv.setUint16(2 * h, h, true);

  it('BF16: every pattern becomes its bits << 16 (NaN payloads kept), read into the result itself', () => {
    let target: ArrayBufferLike | undefined;
    const out = readAsFloat32('BF16', 65536, (dest) => {
      target = dest.buffer;
      dest.set(all);
    });
    assert.equal(target, out.buffer);
    const bits = bitsOf(out);
    for (let h = 0; h < 65536; h++) if (bits[h] !== (h << 16) >>> 0) assert.fail(`BF16 0x${h.toString(16)} -> 0x${bits[h]!.toString(16)}`);
  });

  it('F16: every pattern equals the IEEE binary16 value (closed form)', () => {
    const out = readAsFloat32('F16', 65536, (dest) => dest.set(all));
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >>> 10) & 0x1f;
      const m = h & 0x3ff;
      const want = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
      if (!Object.is(out[h], want)) assert.fail(`F16 0x${h.toString(16)}: ${out[h]} vs ${want}`);
    }
    // and the same as decodeToFloat32 on an odd-offset (misaligned) view
    const backing = new Uint8Array(all.byteLength + 1);
    backing.set(all, 1);
    assert.deepEqual(bitsOf(decodeToFloat32('F16', backing.subarray(1), 65536)), bitsOf(out));
  });
});

describe('loadModel keeps the file bits', () => {
  before(async () => {
    await useTestBackend();
  });
  it('gpt2-tiny: Conv1D weights (stored [in, out], loaded as is) equal the raw little-endian bytes', () => {
    const fdir = fixtureDir('gpt2-tiny');
    const f = openSafetensors(join(fdir, 'model.safetensors'));
    const name = f.names().find((n) => n.endsWith('h.0.mlp.c_fc.weight'))!;
    const want = new Uint32Array(f.raw(name).slice().buffer);
    f.close();
    const model = loadModel(fdir);
    try {
      const got = new Uint32Array((model.params.layers[0]!.wIn.dataSync() as Float32Array).slice().buffer);
      assert.deepEqual([...got], [...want]);
    } finally {
      model.dispose();
    }
  });
});
