// blas.cc — (batched) matrix products through the system CBLAS.
//
// Purpose: map tfjs BatchMatMul / _FusedMatMul (row-major, optional
// transposes, batch broadcasting by stride 0, optional bias row) onto
// cblas_sgemm / cblas_sgemv. OpenBLAS on Linux, Accelerate on macOS.
// Threading: C is cut into tiles of 128 columns (or rows, whichever side is
// longer; 384 when both sides are >= 256 and that still gives >= 6 tiles, as
// each tile re-packs the whole other operand: batched IG 4% faster) and the
// tiles are claimed by our own thread pool, each tile one single-threaded
// BLAS call. On a busy machine a descheduled thread then
// just takes fewer tiles instead of stalling a static split, and it costs
// less CPU than OpenBLAS' own threading (GPT-2 prefill: ~580 vs ~660 CPU-ms
// measured interleaved). OpenBLAS itself stays at 1 thread, so BLAS threads
// and pool threads never compete. Tile edges depend only on shapes, so the
// bytes are identical for any thread count.
// LLMDBG_BLAS_THREADING=blas (or setBlasThreading(true)) hands threading back
// to OpenBLAS, for comparison.
// LIMITATION: each matrix dimension must fit in int (CBLAS API).
// Non-goals: our own GEMM micro-kernels; batched BLAS entry points
// (cblas_sgemm_batch is not in OpenBLAS 0.3.21).
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common.h"

#if defined(LLMDBG_ACCELERATE)
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#if defined(LLMDBG_OPENBLAS)
// Declared by OpenBLAS's cblas.h, redeclared in case another cblas.h won.
extern "C" void openblas_set_num_threads(int);
#endif

namespace llmdbg {

const char* blas_name() {
#if defined(LLMDBG_ACCELERATE)
  return "accelerate";
#elif defined(LLMDBG_OPENBLAS)
  return "openblas";
#else
  return "cblas";
#endif
}

// true: OpenBLAS threads each call itself; false: our pool runs 1-thread tiles.
static int g_threads = 1;
static bool g_blasThreading = [] {
  const char* e = std::getenv("LLMDBG_BLAS_THREADING");
  return e && std::strcmp(e, "blas") == 0;
}();

static bool blas_threading() { return g_blasThreading; }
bool blas_mode() { return g_blasThreading; }

void blas_set_threads(int n) {
  g_threads = n < 1 ? 1 : n;
#if defined(LLMDBG_OPENBLAS)
  openblas_set_num_threads(g_blasThreading ? g_threads : 1);
#else
  // LIMITATION: Accelerate / generic CBLAS choose their own thread count
  // (tiles may then oversubscribe the cores a little).
#endif
}

void blas_set_mode(bool blasThreading) {
  g_blasThreading = blasThreading;
  blas_set_threads(g_threads);
}

static inline int ld(int64_t v) { return int(v < 1 ? 1 : v); }

namespace {

struct Gemm {
  const float *A, *B;
  float* C;
  int64_t M, N, K, strideA, strideB;
  bool ta, tb;
  const float* bias;
};

// One tile: rows [i0,i1) x cols [j0,j1) of batch entry bi.
void tile(const Gemm& g, int64_t bi, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int64_t m = i1 - i0, n = j1 - j0, M = g.M, N = g.N, K = g.K;
  float* c = g.C + bi * M * N + i0 * N + j0;
  // op(A) rows i0.. ; op(B) columns j0..
  const float* a = g.A + bi * g.strideA + (g.ta ? i0 : i0 * K);
  const float* b = g.B + bi * g.strideB + (g.tb ? j0 * K : j0);
  const int lda = g.ta ? ld(M) : ld(K), ldb = g.tb ? ld(K) : ld(N), ldc = ld(N);
  if (g.bias) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(c + i * N, g.bias + j0, size_t(n) * sizeof(float));
  } else if (K == 0) {
    for (int64_t i = 0; i < m; ++i) std::memset(c + i * N, 0, size_t(n) * sizeof(float));
  }
  if (K == 0) return;
  const float beta = g.bias ? 1.0f : 0.0f;
  if (m == 1 && M == 1) {
    // Row vector times matrix: gemv reads B once instead of packing it.
    // op(A) is 1xK and contiguous for either transpose.
    if (g.tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, int(n), int(K), 1.0f, b, ldb, a, 1, beta, c, 1);
    else cblas_sgemv(CblasRowMajor, CblasTrans, int(K), int(n), 1.0f, b, ldb, a, 1, beta, c, 1);
  } else if (n == 1 && N == 1) {
    // Matrix times column vector; op(B) is Kx1 and contiguous, C is a column.
    if (g.ta) cblas_sgemv(CblasRowMajor, CblasTrans, int(K), int(m), 1.0f, a, lda, b, 1, beta, c, 1);
    else cblas_sgemv(CblasRowMajor, CblasNoTrans, int(m), int(K), 1.0f, a, lda, b, 1, beta, c, 1);
  } else {
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, int(m), int(n),
                int(K), 1.0f, a, lda, b, ldb, beta, c, ldc);
  }
}

// A few rows times a tall B (the vocabulary-sized input gradient of the
// unembedding, [1..16, V] x [V, C]): column tiles would read B in 512-byte
// strips of every row; instead fixed chunks of kSplitK rows of B are multiplied
// whole (contiguous reads, one task each) into partial products that are then
// summed in chunk order. Chunk edges depend on K only: same bytes for any
// thread count (other bytes than one call over all of K).
const int64_t kSplitMaxRows = 16, kSplitMinK = 16384, kSplitK = 4096;

void ksplit(const Gemm& g, int64_t batch) {
  const int64_t M = g.M, N = g.N, K = g.K, chunks = (K + kSplitK - 1) / kSplitK;
  std::vector<float> part(size_t(batch * chunks * M * N));
  parallel_tasks(batch * chunks, [&](int64_t t) {
    const int64_t bi = t / chunks, c = t % chunks, k0 = c * kSplitK, kn = (k0 + kSplitK < K ? k0 + kSplitK : K) - k0;
    const float* a = g.A + bi * g.strideA + k0;      // [M, K] row-major, columns k0..
    const float* b = g.B + bi * g.strideB + k0 * N;  // [K, N] row-major, rows k0..
    float* p = part.data() + size_t(t * M * N);
    if (M == 1) cblas_sgemv(CblasRowMajor, CblasTrans, int(kn), int(N), 1.0f, b, ld(N), a, 1, 0.0f, p, 1);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(kn), 1.0f, a, ld(K), b, ld(N), 0.0f, p, ld(N));
  });
  for (int64_t bi = 0; bi < batch; ++bi) {
    float* c = g.C + bi * M * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) c[i * N + j] = g.bias ? g.bias[j] : 0.0f;
    for (int64_t ch = 0; ch < chunks; ++ch) {
      const float* p = part.data() + size_t((bi * chunks + ch) * M * N);
      for (int64_t e = 0; e < M * N; ++e) c[e] += p[e];
    }
  }
}

}  // namespace

void gemm(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N, int64_t K,
          bool transA, bool transB, int64_t strideA, int64_t strideB, const float* bias) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  const Gemm g{A, B, C, M, N, K, strideA, strideB, transA, transB, bias};
  if (blas_threading()) {
    pool_park();  // our workers must not spin while BLAS threads work
    for (int64_t bi = 0; bi < batch; ++bi) tile(g, bi, 0, M, 0, N);
    return;
  }
  if (!transA && !transB && M <= kSplitMaxRows && K >= kSplitMinK && N >= 64) {
    ksplit(g, batch);
    return;
  }
  // Tiles of kTile columns of C (or rows when M > N); shape-only, so results
  // never depend on the thread count. Small products stay whole.
  const bool byCols = N >= M;
  const int64_t len = byCols ? N : M;
  // Wider tiles re-pack the other operand less often, but only where they still make
  // >= 6 tiles (machines with more cores than 2 need the parallelism).
  const int64_t kTile = M >= 256 && N >= 256 && len >= 6 * 384 ? 384 : 128;
  const int64_t work = M * N * (K > 0 ? K : 1);
  const int64_t tiles = work < (int64_t(1) << 21) ? 1 : (len + kTile - 1) / kTile;
  const int64_t span = (len + tiles - 1) / tiles;
  parallel_tasks(batch * tiles, [&](int64_t t) {
    const int64_t bi = t / tiles, k = t % tiles;
    const int64_t lo = k * span, hi = lo + span < len ? lo + span : len;
    if (lo >= hi) return;
    if (byCols) tile(g, bi, 0, M, lo, hi);
    else tile(g, bi, lo, hi, 0, N);
  });
}

}  // namespace llmdbg
