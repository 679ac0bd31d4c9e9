// pool.ts — recycles the output arrays of native kernels.
//
// Purpose: a fresh 768 KiB Float32Array costs ~10x the element-wise op that
// fills it (zeroing + first-touch page faults + GC pressure), so arrays that
// native kernels allocated are returned to a size-keyed free list when their
// tensor is disposed, and reused for the next output of the same length.
// Safety: an array is recyclable only while it is "owned": allocated here and
// never exposed. It stops being owned (forever) when
//   - it is read through the backend (dataSync/data/bufferSync -> readSync),
//   - any kernel output shares its ArrayBuffer (zero-copy slices/views),
// so user-visible arrays and views are never overwritten.
// Non-goals: pooling small arrays (V8 allocates those cheaply), int32 arrays.
// LIMITATION: an array read once (dataSync) is never recycled, even after
// the reader dropped it.
const MIN_LEN = 16384;  // 64 KiB
const MAX_PER_SIZE = 32;
const MAX_BYTES = 192 << 20;

const owned = new WeakSet<Float32Array>();
const free = new Map<number, Float32Array[]>();
let pooledBytes = 0;

/** A Float32Array of length n for a kernel output; contents are arbitrary unless zero. */
export function allocF32(n: number, zero = false): Float32Array {
  if (n < MIN_LEN) return new Float32Array(n);
  const a = free.get(n)?.pop();
  if (a) {
    pooledBytes -= a.byteLength;
    if (zero) a.fill(0);
    owned.add(a);
    return a;
  }
  const b = new Float32Array(n);
  owned.add(b);
  return b;
}

/** The array may be visible outside the backend: never recycle it. */
export function escape(v: unknown): void {
  if (v instanceof Float32Array) owned.delete(v);
}

/** Called when the tensor holding v was disposed. */
export function release(v: unknown): void {
  if (!(v instanceof Float32Array) || !owned.has(v)) return;
  owned.delete(v);
  if (pooledBytes + v.byteLength > MAX_BYTES) return;
  let list = free.get(v.length);
  if (!list) free.set(v.length, (list = []));
  if (list.length >= MAX_PER_SIZE) return;
  list.push(v);
  pooledBytes += v.byteLength;
}

export function isOwned(v: unknown): boolean {
  return v instanceof Float32Array && owned.has(v);
}

/** Drops every pooled array (e.g. before measuring memory). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

export function poolStats(): { bytes: number; arrays: number } {
  let arrays = 0;
  for (const l of free.values()) arrays += l.length;
  return { bytes: pooledBytes, arrays };
}
