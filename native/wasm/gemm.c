// Matrix products for the WASM backend, compiled to WebAssembly with 128-bit SIMD and run inside
// TensorFlow.js' own WASM memory (this module imports that memory: it reads operands where tfjs
// keeps them and writes into an output tfjs allocated). Unlike XNNPACK, which tfjs-backend-wasm
// uses, it keeps no packed copy of the right-hand operand, so a model's weights live in memory
// once. Built by tools/build-wasm-gemm.mjs (clang + wasm-ld); the .wasm beside this file is
// committed so installing llmdbg needs no compiler. Loaded by src/engine/wasm-gemm.ts.
//
// Everything is single-threaded and sums in one fixed order per shape: same inputs, same bytes.
// The code takes no addresses of locals and has no static data: it must never touch the linear
// memory outside the operands (the module's stack region would lie inside tfjs' heap).
//
// Dimension names: C[M, N] = A[M, K] x B[K, N] per batch item; offsets are byte offsets into the
// shared memory, strides in elements.
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;

static inline v128_t ld(const f32* p) { return wasm_v128_load(p); }
static inline void st(f32* p, v128_t v) { wasm_v128_store(p, v); }
static inline v128_t fma4(v128_t acc, v128_t a, v128_t b) { return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b)); }
static inline f32 hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}
// The lane sums of four vectors as one vector: [hsum(a), hsum(b), hsum(c), hsum(d)].
static inline v128_t hsum4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t ab_lo = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), ab_hi = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
  v128_t cd_lo = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), cd_hi = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
  v128_t ab = wasm_f32x4_add(ab_lo, ab_hi);  // [a0+a2, b0+b2, a1+a3, b1+b3]
  v128_t cd = wasm_f32x4_add(cd_lo, cd_hi);
  v128_t x = wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), y = wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7);
  return wasm_f32x4_add(x, y);
}

// ---- Row form: B is [K, N] row-major (B not transposed). A element (i, k) is A[i*sai + k*sak],
// so this serves both A [M, K] (sai = K, sak = 1) and A stored [K, M] (transposed: sai = 1, sak = M).

// One row of C, streaming B several rows at a time: for M = 1, as in decoding.
static void row1(const f32* A, int sak, const f32* B, int ldb, f32* C, int K, int N) {
  for (int j = 0; j < N; ++j) C[j] = 0.0f;
  int k = 0;
  // Eight rows of B at a time, unless rows lie a multiple of 2 KiB apart: eight such streams and C
  // would compete for the ways of one first-level cache set.
  const int eight = (ldb % 512) != 0;
  for (; eight && k + 8 <= K; k += 8) {
    const f32 s0 = A[(k + 0) * sak], s1 = A[(k + 1) * sak], s2 = A[(k + 2) * sak], s3 = A[(k + 3) * sak];
    const f32 s4 = A[(k + 4) * sak], s5 = A[(k + 5) * sak], s6 = A[(k + 6) * sak], s7 = A[(k + 7) * sak];
    const v128_t a0 = wasm_f32x4_splat(s0), a1 = wasm_f32x4_splat(s1), a2 = wasm_f32x4_splat(s2), a3 = wasm_f32x4_splat(s3);
    const v128_t a4 = wasm_f32x4_splat(s4), a5 = wasm_f32x4_splat(s5), a6 = wasm_f32x4_splat(s6), a7 = wasm_f32x4_splat(s7);
    const f32 *b0 = B + (k + 0) * ldb, *b1 = B + (k + 1) * ldb, *b2 = B + (k + 2) * ldb, *b3 = B + (k + 3) * ldb;
    const f32 *b4 = B + (k + 4) * ldb, *b5 = B + (k + 5) * ldb, *b6 = B + (k + 6) * ldb, *b7 = B + (k + 7) * ldb;
    int j = 0;
    for (; j + 4 <= N; j += 4) {
      v128_t p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(a0, ld(b0 + j)), wasm_f32x4_mul(a1, ld(b1 + j))),
                                wasm_f32x4_add(wasm_f32x4_mul(a2, ld(b2 + j)), wasm_f32x4_mul(a3, ld(b3 + j))));
      v128_t q = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(a4, ld(b4 + j)), wasm_f32x4_mul(a5, ld(b5 + j))),
                                wasm_f32x4_add(wasm_f32x4_mul(a6, ld(b6 + j)), wasm_f32x4_mul(a7, ld(b7 + j))));
      st(C + j, wasm_f32x4_add(ld(C + j), wasm_f32x4_add(p, q)));
    }
    for (; j < N; ++j)
      C[j] += ((s0 * b0[j] + s1 * b1[j]) + (s2 * b2[j] + s3 * b3[j])) + ((s4 * b4[j] + s5 * b5[j]) + (s6 * b6[j] + s7 * b7[j]));
  }
  for (; k + 4 <= K; k += 4) {
    const f32 s0 = A[(k + 0) * sak], s1 = A[(k + 1) * sak], s2 = A[(k + 2) * sak], s3 = A[(k + 3) * sak];
    const v128_t a0 = wasm_f32x4_splat(s0), a1 = wasm_f32x4_splat(s1), a2 = wasm_f32x4_splat(s2), a3 = wasm_f32x4_splat(s3);
    const f32 *b0 = B + (k + 0) * ldb, *b1 = B + (k + 1) * ldb, *b2 = B + (k + 2) * ldb, *b3 = B + (k + 3) * ldb;
    int j = 0;
    for (; j + 4 <= N; j += 4) {
      v128_t p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(a0, ld(b0 + j)), wasm_f32x4_mul(a1, ld(b1 + j))),
                                wasm_f32x4_add(wasm_f32x4_mul(a2, ld(b2 + j)), wasm_f32x4_mul(a3, ld(b3 + j))));
      st(C + j, wasm_f32x4_add(ld(C + j), p));
    }
    for (; j < N; ++j) C[j] += (s0 * b0[j] + s1 * b1[j]) + (s2 * b2[j] + s3 * b3[j]);
  }
  for (; k < K; ++k) {
    const f32 s = A[k * sak];
    const f32* b = B + k * ldb;
    for (int j = 0; j < N; ++j) C[j] += s * b[j];
  }
}

// A 4 x 8 block of C: C[i..i+4, j..j+8] = sum over k of a(i+r, k) * B[k, j..j+8].
// Over k0 <= k < k1; `first` starts from zero, otherwise from the partial sums already in C, so
// splitting K into chunks keeps each element's summation order (and bytes) unchanged.
static inline void block4x8(const f32* A, int sai, int sak, const f32* B, int ldb, f32* C, int ldc, int k0, int k1, int first) {
  v128_t c00, c01, c10, c11, c20, c21, c30, c31;
  if (first) {
    c00 = wasm_f32x4_splat(0); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
  } else {
    c00 = ld(C); c01 = ld(C + 4); c10 = ld(C + ldc); c11 = ld(C + ldc + 4);
    c20 = ld(C + 2 * ldc); c21 = ld(C + 2 * ldc + 4); c30 = ld(C + 3 * ldc); c31 = ld(C + 3 * ldc + 4);
  }
  const f32 *a0 = A, *a1 = A + sai, *a2 = A + 2 * sai, *a3 = A + 3 * sai;
  for (int k = k0; k < k1; ++k) {
    const v128_t b0 = ld(B + k * ldb), b1 = ld(B + k * ldb + 4);
    v128_t a = wasm_f32x4_splat(a0[k * sak]);
    c00 = fma4(c00, a, b0); c01 = fma4(c01, a, b1);
    a = wasm_f32x4_splat(a1[k * sak]);
    c10 = fma4(c10, a, b0); c11 = fma4(c11, a, b1);
    a = wasm_f32x4_splat(a2[k * sak]);
    c20 = fma4(c20, a, b0); c21 = fma4(c21, a, b1);
    a = wasm_f32x4_splat(a3[k * sak]);
    c30 = fma4(c30, a, b0); c31 = fma4(c31, a, b1);
  }
  st(C, c00); st(C + 4, c01);
  st(C + ldc, c10); st(C + ldc + 4, c11);
  st(C + 2 * ldc, c20); st(C + 2 * ldc + 4, c21);
  st(C + 3 * ldc, c30); st(C + 3 * ldc + 4, c31);
}

// Any block up to 4 x 8 at the edges, element by element in the same k order.
static void edge(const f32* A, int sai, int sak, const f32* B, int ldb, f32* C, int ldc, int K, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      f32 s = 0.0f;
      for (int k = 0; k < K; ++k) s += A[r * sai + k * sak] * B[k * ldb + c];
      C[r * ldc + c] = s;
    }
}

// Columns are taken in panels of 8 so that a panel of B, kChunk rows of 32 bytes, is read from
// memory once and then from the first-level cache for every 4-row block of A.
static const int kChunk = 256;
static void rows_form(const f32* A, int sai, int sak, const f32* B, f32* C, int M, int K, int N, f32* panel) {
  if (M == 1) {
    row1(A, sak, B, N, C, K, N);
    return;
  }
  const int M4 = M & ~3, N8 = N & ~7;
  for (int k0 = 0; k0 < K; k0 += kChunk) {
    const int k1 = k0 + kChunk < K ? k0 + kChunk : K;
    for (int j = 0; j < N8; j += 8) {
      // The panel B[k0..k1, j..j+8] copied contiguous: rows of B a multiple of 4 KiB apart would
      // all fall into one set of the first-level cache.
      for (int k = k0; k < k1; ++k) {
        st(panel + (k - k0) * 8, ld(B + k * N + j));
        st(panel + (k - k0) * 8 + 4, ld(B + k * N + j + 4));
      }
      for (int i = 0; i < M4; i += 4) block4x8(A + i * sai + k0 * sak, sai, sak, panel, 8, C + i * N + j, N, 0, k1 - k0, k0 == 0);
    }
  }
  for (int j = 0; j < N8; j += 8)
    if (M4 < M) edge(A + M4 * sai, sai, sak, B + j, N, C + M4 * N + j, N, K, M - M4, 8);
  if (N8 < N)
    for (int i = 0; i < M; i += 4) edge(A + i * sai, sai, sak, B + N8, N, C + i * N + N8, N, K, M - i < 4 ? M - i : 4, N - N8);
}

// ---- Dot form: B is [N, K] row-major (B transposed), A is [M, K]: C[i, j] = dot(A[i, :], B[j, :]).

static inline f32 dot_tail(const f32* a, const f32* b, int k0, int K) {
  f32 s = 0.0f;
  for (int k = k0; k < K; ++k) s += a[k] * b[k];
  return s;
}

// C[i, j..j+4] for one row i (decoding's unembedding: [1, C] x [V, C]^T).
static inline void dot1x4(const f32* a, const f32* B, int K, f32* c) {
  const f32 *b0 = B, *b1 = B + K, *b2 = B + 2 * K, *b3 = B + 3 * K;
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  const int K4 = K & ~3;
  for (int k = 0; k < K4; k += 4) {
    const v128_t x = ld(a + k);
    s0 = fma4(s0, x, ld(b0 + k)); s1 = fma4(s1, x, ld(b1 + k));
    s2 = fma4(s2, x, ld(b2 + k)); s3 = fma4(s3, x, ld(b3 + k));
  }
  v128_t r = hsum4(s0, s1, s2, s3);
  if (K4 < K) r = wasm_f32x4_add(r, wasm_f32x4_make(dot_tail(a, b0, K4, K), dot_tail(a, b1, K4, K), dot_tail(a, b2, K4, K), dot_tail(a, b3, K4, K)));
  st(c, r);
}

// C[i..i+2, j..j+4].
static inline void dot2x4(const f32* A, const f32* B, int K, f32* C, int ldc) {
  const f32 *a0 = A, *a1 = A + K;
  const f32 *b0 = B, *b1 = B + K, *b2 = B + 2 * K, *b3 = B + 3 * K;
  v128_t s00 = wasm_f32x4_splat(0), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
  const int K4 = K & ~3;
  for (int k = 0; k < K4; k += 4) {
    const v128_t x0 = ld(a0 + k), x1 = ld(a1 + k);
    v128_t y = ld(b0 + k);
    s00 = fma4(s00, x0, y); s10 = fma4(s10, x1, y);
    y = ld(b1 + k);
    s01 = fma4(s01, x0, y); s11 = fma4(s11, x1, y);
    y = ld(b2 + k);
    s02 = fma4(s02, x0, y); s12 = fma4(s12, x1, y);
    y = ld(b3 + k);
    s03 = fma4(s03, x0, y); s13 = fma4(s13, x1, y);
  }
  v128_t r0 = hsum4(s00, s01, s02, s03), r1 = hsum4(s10, s11, s12, s13);
  if (K4 < K) {
    r0 = wasm_f32x4_add(r0, wasm_f32x4_make(dot_tail(a0, b0, K4, K), dot_tail(a0, b1, K4, K), dot_tail(a0, b2, K4, K), dot_tail(a0, b3, K4, K)));
    r1 = wasm_f32x4_add(r1, wasm_f32x4_make(dot_tail(a1, b0, K4, K), dot_tail(a1, b1, K4, K), dot_tail(a1, b2, K4, K), dot_tail(a1, b3, K4, K)));
  }
  st(C, r0);
  st(C + ldc, r1);
}

// One element, the same summation order as the vector blocks (four lanes, then the tail).
static inline f32 dot1(const f32* a, const f32* b, int K) {
  v128_t s = wasm_f32x4_splat(0);
  const int K4 = K & ~3;
  for (int k = 0; k < K4; k += 4) s = fma4(s, ld(a + k), ld(b + k));
  return hsum(s) + dot_tail(a, b, K4, K);
}

// Column blocks of 4 rows of B (outer), row pairs of A (inner): the 4 rows of B stay in cache
// while every row of A passes.
static void dot_form(const f32* A, const f32* B, f32* C, int M, int K, int N) {
  const int N4 = N & ~3, M2 = M & ~1;
  for (int j = 0; j < N4; j += 4) {
    for (int i = 0; i < M2; i += 2) dot2x4(A + i * K, B + j * K, K, C + i * N + j, N);
    if (M2 < M) dot1x4(A + M2 * K, B + j * K, K, C + M2 * N + j);
  }
  for (int j = N4; j < N; ++j)
    for (int i = 0; i < M; ++i) C[i * N + j] = dot1(A + i * K, B + j * K, K);
}

EXPORT(llmdbg_gemm_scratch_bytes)
int llmdbg_gemm_scratch_bytes(void) { return kChunk * 8 * (int)sizeof(f32); }

// C[b] = op(A[b]) x op(B[b]) for b < batch; strideA / strideB are 0 for a broadcast operand.
// transA with transB is not handled here (the caller transposes A first). Offsets in bytes;
// scratch is llmdbg_gemm_scratch_bytes() bytes the caller owns, 16-byte aligned.
EXPORT(llmdbg_gemm)
void llmdbg_gemm(uint32_t aOff, uint32_t bOff, uint32_t cOff, int batch, int M, int N, int K,
                 int transA, int transB, int strideA, int strideB, uint32_t scratchOff) {
  f32* panel = (f32*)(uintptr_t)scratchOff;  // kChunk x 8 floats (LLMDBG_GEMM_SCRATCH_BYTES)
  const f32* A = (const f32*)(uintptr_t)aOff;
  const f32* B = (const f32*)(uintptr_t)bOff;
  f32* C = (f32*)(uintptr_t)cOff;
  for (int b = 0; b < batch; ++b) {
    const f32* a = A + (long)b * strideA;
    const f32* bb = B + (long)b * strideB;
    f32* c = C + (long)b * M * N;
    if (K == 0) {
      for (int e = 0; e < M * N; ++e) c[e] = 0.0f;
    } else if (transB) {
      dot_form(a, bb, c, M, K, N);
    } else if (transA) {
      rows_form(a, 1, M, bb, c, M, K, N, panel);
    } else {
      rows_form(a, K, 1, bb, c, M, K, N, panel);
    }
  }
}
