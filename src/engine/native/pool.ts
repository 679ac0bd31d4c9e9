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
// Memory: the pool holds at most `poolBudget()` bytes (default 48 MiB,
// LLMDBG_POOL_MB overrides) and evicts the least recently used *length* first.
// Lengths that never come back (the KV cache grows by one position per decode
// step, so every step's concat outputs have a new length) age out instead of
// pinning the budget: the former pool (192 MiB, no eviction) filled up with
// them during decode, +160 MB of peak RSS on GPT-2-small (bench/README.md).
// 48 MiB holds a 64-token GPT-2-small prefill's recurring outputs (~15-45 MiB).
// Arrays the pool cannot supply are allocated uninitialised (Buffer.allocUnsafe):
// every kernel writes all of its output, and callers that need zeros say so.
// Non-goals: pooling small arrays (V8 allocates those cheaply), int32 arrays.
// LIMITATION: an array read once (dataSync) is never recycled, even after
// the reader dropped it.
// LIMITATION: evicted arrays are freed only when V8 next collects them (V8
// counts their bytes as external memory, which triggers a collection).
import { loadAddon } from './addon.js';
const MIN_LEN = 16384;  // 64 KiB
const ALIGN = 64;  // bytes; the start of every pooled array
const MAX_PER_SIZE = 1024;  // the byte budget is the bound; 32 dropped most of a batched IG pass's [512, 3072] outputs
const DEFAULT_BYTES = 48 << 20;

const owned = new WeakSet<Float32Array>();
/** length -> free arrays of that length; Map order = least recently used length first. */
const free = new Map<number, Float32Array[]>();
let pooledBytes = 0;
let budget = envBudget();

function envBudget(): number {
  const mb = Number(process.env.LLMDBG_POOL_MB);
  return process.env.LLMDBG_POOL_MB !== undefined && Number.isFinite(mb) && mb >= 0 ? Math.floor(mb * 2 ** 20) : DEFAULT_BYTES;
}

/** A Float32Array of length n for a kernel output; contents are arbitrary unless zero. */
export function allocF32(n: number, zero = false): Float32Array {
  if (n < MIN_LEN) return new Float32Array(n);
  const list = free.get(n);
  const a = list?.pop();
  if (a) {
    pooledBytes -= a.byteLength;
    free.delete(n);  // re-inserted last: this length was just used
    if (list!.length > 0) free.set(n, list!);
    if (zero) a.fill(0);
    owned.add(a);
    return a;
  }
  // Uninitialised memory (kernels write every element; `zero` asks for zeros): a fresh
  // Float32Array is zeroed by calloc, which made fresh outputs 3-8x dearer (196 KiB: 127 vs 41 us).
  const b = zero ? new Float32Array(n) : uninitialisedF32(n);
  owned.add(b);
  return b;
}

/**
 * Node's Buffer.allocUnsafeSlow skips zero-filling and gives an ArrayBuffer of its own, which
 * malloc aligns to 16 bytes only; the array starts at the next 64-byte boundary inside it
 * (OpenBLAS packs a right-hand operand at 16 mod 64 ~10% slower: 3.64 vs 3.28 ms for
 * [64,768]x[768,3072], native/src/addon.cc misalignment()).
 */
export function uninitialisedF32(n: number): Float32Array {
  const buf = Buffer.allocUnsafeSlow(4 * n + ALIGN);
  const loaded = loadAddon();
  const mis = 'error' in loaded ? 0 : loaded.addon.misalignment(new Float32Array(buf.buffer, buf.byteOffset, 1));
  const pad = mis % 4 === 0 ? (ALIGN - mis) % ALIGN : 0;
  return new Float32Array(buf.buffer, buf.byteOffset + pad, n);
}

/** `values` itself when small or already 64-byte aligned, else an aligned copy (see above). */
export function alignedF32(values: Float32Array): Float32Array {
  if (values.length < MIN_LEN) return values;
  const loaded = loadAddon();
  if ('error' in loaded || loaded.addon.misalignment(values) === 0) return values;
  const out = uninitialisedF32(values.length);
  out.set(values);
  return out;
}

/** The array may be visible outside the backend: never recycle it. */
export function escape(v: unknown): void {
  if (v instanceof Float32Array) owned.delete(v);
}

/** Called when the tensor holding v was disposed. */
export function release(v: unknown): void {
  if (!(v instanceof Float32Array) || !owned.has(v)) return;
  owned.delete(v);
  if (v.byteLength > budget) return;
  let list = free.get(v.length);
  if (list) free.delete(v.length);  // move to the most recently used end
  else list = [];
  if (list.length >= MAX_PER_SIZE) {
    free.set(v.length, list);
    return;
  }
  list.push(v);
  free.set(v.length, list);
  pooledBytes += v.byteLength;
  evict();
}

/** Drops arrays of the least recently used lengths until the pool fits its budget. */
function evict(): void {
  for (const [n, list] of free) {
    if (pooledBytes <= budget) return;
    while (list.length > 0 && pooledBytes > budget) pooledBytes -= list.pop()!.byteLength;
    if (list.length === 0) free.delete(n);
  }
}

export function isOwned(v: unknown): boolean {
  return v instanceof Float32Array && owned.has(v);
}

/** Drops every pooled array (e.g. before measuring memory). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

/** Bytes the pool may hold (0 disables recycling); returns the previous budget. */
export function setPoolBudget(bytes: number): number {
  const prev = budget;
  budget = Math.max(0, Math.floor(bytes));
  evict();
  return prev;
}

/**
 * Raises the budget to at least `bytes` for a workload that allocates the same lengths again and
 * again (a training step: 48 x 40 tokens of the demo model recycle ~100+ MiB per step, and 192 MiB
 * trains it ~20% faster than the inference default of 48 MiB, at the same peak RSS). An explicit
 * LLMDBG_POOL_MB wins. Returns a function that restores the previous budget.
 */
export function raisePoolBudget(bytes: number): () => void {
  if (process.env.LLMDBG_POOL_MB !== undefined || budget >= bytes) return () => {};
  const prev = setPoolBudget(bytes);
  return () => void setPoolBudget(prev);
}

export function poolBudget(): number {
  return budget;
}

export function poolStats(): { bytes: number; arrays: number; budget: number } {
  let arrays = 0;
  for (const l of free.values()) arrays += l.length;
  return { bytes: pooledBytes, arrays, budget };
}
