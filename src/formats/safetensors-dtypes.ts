/**
 * safetensors dtypes: names, byte sizes, the reference alignment order, and bit-exact conversions
 * between the stored little-endian bytes and float32 (F16/BF16 with round-to-nearest-even).
 * Non-goals: sub-byte dtypes (F4, F6_*), complex numbers, big-endian hosts (handled by a slow path only).
 * LIMITATION: I64/U64/I32/U32 values above 2^24 lose precision when widened to float32 (by design: float32 out).
 */

/** Dtypes we read, in the reference `Dtype` enum order (increasing alignment). */
export const DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;
export type Dtype = (typeof DTYPES)[number];

/** Dtype names valid in newer safetensors versions that this reader refuses (`safetensors_unsupported_dtype`). */
export const UNSUPPORTED_DTYPES: readonly string[] = ['F4', 'F6_E2M3', 'F6_E3M2', 'F8_E8M0', 'C64'];

export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

export function isDtype(s: string): s is Dtype {
  return (DTYPES as readonly string[]).includes(s);
}

/** Index in the reference order; the writer sorts by this descending, like `prepare()`. */
export function dtypeRank(d: Dtype): number {
  return DTYPES.indexOf(d);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------- scalar bit conversions ----------

let f16Table: Float32Array | undefined;
function f16Lut(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToNumberSlow(h);
  }
  return f16Table;
}

function f16BitsToNumberSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** IEEE binary16 bits -> number (exact). */
export function f16BitsToFloat(h: number): number {
  return f16Lut()[h & 0xffff]!;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** bfloat16 bits -> number (exact; NaN payloads become the platform NaN). */
export function bf16BitsToFloat(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** number -> binary16 bits: first rounded to float32, then round-to-nearest-even; overflow gives ±Inf. */
export function floatToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    return sign | ((m + half - 1 + ((m >>> shift) & 1)) >>> shift);
  }
  return sign | ((e << 10) + ((mant + 0xfff + ((mant >>> 13) & 1)) >>> 13));
}

/** number -> bfloat16 bits: float32 rounding, then round-to-nearest-even on the top 16 bits; NaN stays NaN. */
export function floatToBf16Bits(x: number): number {
  f32Scratch[0] = x;
  const bits = u32Scratch[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function f8e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const e = (b >>> 3) & 0xf;
  const m = b & 7;
  if (e === 0xf && m === 7) return NaN; // E4M3FN: no infinities, only this NaN
  if (e === 0) return sign * m * 2 ** -9;
  return sign * (1 + m / 8) * 2 ** (e - 7);
}

// ---------- bulk decode ----------

/** True on little-endian hosts (every platform Node supports today): F32 bytes are then float32 values as stored. */
export const HOST_LITTLE_ENDIAN = LITTLE_ENDIAN;

/**
 * Reads `count` elements of `dtype` widened to float32 into a fresh array, with `fill(dest)`
 * writing the stored little-endian bytes into `dest` (e.g. a positioned file read). F32 on a
 * little-endian host lands in the result directly (one copy: source -> result); F16/BF16 land in
 * the result's upper half and are widened in place in one forward pass (no temporary array).
 * Other dtypes and big-endian hosts go through a temporary byte array and `decodeToFloat32`.
 * The destination is always a fresh, aligned buffer, so the source's byte offset does not matter.
 * `alloc` supplies that destination (default: a zeroed Float32Array); a compute backend may pass one
 * that places arrays where its kernels read them fastest. Its contents may be arbitrary: every
 * element is written.
 */
export function readAsFloat32(dtype: Dtype, count: number, fill: (dest: Uint8Array) => void, alloc: (count: number) => Float32Array = (n) => new Float32Array(n)): Float32Array {
  if (LITTLE_ENDIAN && dtype === 'F32') {
    const out = alloc(count);
    fill(new Uint8Array(out.buffer, out.byteOffset, 4 * count));
    return out;
  }
  if (LITTLE_ENDIAN && (dtype === 'F16' || dtype === 'BF16')) {
    const out = alloc(count);
    fill(new Uint8Array(out.buffer, out.byteOffset + 2 * count, 2 * count));
    widenHalfInPlace(dtype, out);
    return out;
  }
  const bytes = new Uint8Array(count * DTYPE_SIZE[dtype]);
  fill(bytes);
  return decodeToFloat32(dtype, bytes, count);
}

/**
 * `out` holds `n` half-width values (F16 or BF16, host order) in its upper half (bytes 2n..4n);
 * widens them to float32 over the whole array. Forward order is safe: writing element i touches
 * bytes 4i..4i+3, which hold only source elements <= i (2n + 2k <= 4i + 3 implies k <= i for i < n).
 */
function widenHalfInPlace(dtype: 'F16' | 'BF16', out: Float32Array): void {
  const n = out.length;
  const h = new Uint16Array(out.buffer, out.byteOffset + 2 * n, n);
  if (dtype === 'F16') {
    const lut = f16Lut();
    for (let i = 0; i < n; i++) out[i] = lut[h[i]!]!;
  } else {
    const o32 = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) o32[i] = h[i]! << 16;
  }
}

/**
 * Widens `count` little-endian elements of `dtype` in `bytes` to float32. `bytes` may sit at any byte
 * offset: misaligned input is copied, never viewed in place. The result never aliases `bytes`.
 */
export function decodeToFloat32(dtype: Dtype, bytes: Uint8Array, count: number): Float32Array {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength !== count * size) throw new RangeError(`decodeToFloat32: ${dtype} x ${count} needs ${count * size} bytes, got ${bytes.byteLength}`);
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN && dtype === 'F32') {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  if (LITTLE_ENDIAN && (dtype === 'F16' || dtype === 'BF16')) {
    new Uint8Array(out.buffer, 2 * count, 2 * count).set(bytes);
    widenHalfInPlace(dtype, out);
    return out;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = elementReader(dtype, dv);
  for (let i = 0; i < count; i++) out[i] = get(i);
  return out;
}

function elementReader(dtype: Dtype, dv: DataView): (i: number) => number {
  switch (dtype) {
    case 'BOOL': return (i) => (dv.getUint8(i) !== 0 ? 1 : 0);
    case 'U8': return (i) => dv.getUint8(i);
    case 'I8': return (i) => dv.getInt8(i);
    case 'F8_E5M2': return (i) => f16BitsToFloat(dv.getUint8(i) << 8);
    case 'F8_E4M3': return (i) => f8e4m3ToFloat(dv.getUint8(i));
    case 'I16': return (i) => dv.getInt16(2 * i, true);
    case 'U16': return (i) => dv.getUint16(2 * i, true);
    case 'F16': return (i) => f16BitsToFloat(dv.getUint16(2 * i, true));
    case 'BF16': return (i) => bf16BitsToFloat(dv.getUint16(2 * i, true));
    case 'I32': return (i) => dv.getInt32(4 * i, true);
    case 'U32': return (i) => dv.getUint32(4 * i, true);
    case 'F32': return (i) => dv.getFloat32(4 * i, true);
    case 'F64': return (i) => dv.getFloat64(8 * i, true);
    case 'I64': return (i) => Number(dv.getBigInt64(8 * i, true));
    case 'U64': return (i) => Number(dv.getBigUint64(8 * i, true));
  }
}

// ---------- bulk encode ----------

/** Dtypes the writer can encode from numbers. */
export const ENCODABLE_DTYPES: readonly Dtype[] = DTYPES.filter((d) => d !== 'F8_E5M2' && d !== 'F8_E4M3');

/**
 * Encodes numbers as little-endian `dtype` bytes. Returns the index of the first value that does not fit
 * (non-integer or out of range for integer dtypes) as `bad`, leaving the message to the caller.
 */
export function encodeFromNumbers(dtype: Dtype, values: ArrayLike<number>): { bytes: Uint8Array; bad?: number } {
  const n = values.length;
  const bytes = new Uint8Array(n * DTYPE_SIZE[dtype]);
  const dv = new DataView(bytes.buffer);
  const int = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    switch (dtype) {
      case 'F32': dv.setFloat32(4 * i, v, true); break;
      case 'F64': dv.setFloat64(8 * i, v, true); break;
      case 'F16': dv.setUint16(2 * i, floatToF16Bits(v), true); break;
      case 'BF16': dv.setUint16(2 * i, floatToBf16Bits(v), true); break;
      case 'BOOL': if (v !== 0 && v !== 1) return { bytes, bad: i }; dv.setUint8(i, v); break;
      case 'U8': if (!int(v, 0, 0xff)) return { bytes, bad: i }; dv.setUint8(i, v); break;
      case 'I8': if (!int(v, -0x80, 0x7f)) return { bytes, bad: i }; dv.setInt8(i, v); break;
      case 'U16': if (!int(v, 0, 0xffff)) return { bytes, bad: i }; dv.setUint16(2 * i, v, true); break;
      case 'I16': if (!int(v, -0x8000, 0x7fff)) return { bytes, bad: i }; dv.setInt16(2 * i, v, true); break;
      case 'U32': if (!int(v, 0, 0xffffffff)) return { bytes, bad: i }; dv.setUint32(4 * i, v, true); break;
      case 'I32': if (!int(v, -0x80000000, 0x7fffffff)) return { bytes, bad: i }; dv.setInt32(4 * i, v, true); break;
      case 'U64': if (!int(v, 0, Number.MAX_SAFE_INTEGER)) return { bytes, bad: i }; dv.setBigUint64(8 * i, BigInt(v), true); break;
      case 'I64': if (!Number.isSafeInteger(v)) return { bytes, bad: i }; dv.setBigInt64(8 * i, BigInt(v), true); break;
      default: return { bytes, bad: i };
    }
  }
  return { bytes };
}
