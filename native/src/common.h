// common.h — shared declarations for the llmdbg native kernels.
//
// Purpose: the thread pool API (fixed, deterministic partitioning), and the
// plain C++ kernel entry points that addon.cc exposes to JavaScript.
// All kernels work on float32 (or 4-byte opaque elements for data movement),
// row-major, contiguous buffers. Non-goals: strided views, other dtypes
// (the TypeScript side falls back to the tfjs 'cpu' kernels for those).
#pragma once
#include <cstddef>
#include <cstdint>

// Hot loops are compiled for AVX2 and baseline x86-64 and chosen at load
// time from the running CPU (GNU ifunc); elsewhere they compile once.
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__) && defined(__linux__)
#define LLMDBG_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LLMDBG_CLONES
#endif

namespace llmdbg {

// ---- thread pool (pool.cc) -------------------------------------------------
// The calling (JS) thread and the workers claim tasks from a shared counter;
// workers sleep on a condition variable after a short spin. Every call is
// synchronous on the JS thread.
void pool_set_threads(int n);
int pool_threads();
typedef void (*TaskFn)(void* ctx, int task, int ntasks);
void pool_run(int ntasks, TaskFn fn, void* ctx);
// Makes spinning workers sleep immediately (called before BLAS runs).
void pool_park();

// Splits [0, n) into contiguous chunks whose boundaries depend only on n,
// grain and the thread count; f(begin, end) must write disjoint outputs.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  int64_t tasks = n / (grain > 0 ? grain : 1);
  const int t = pool_threads();
  if (tasks > 4 * t) tasks = 4 * t;  // a few tasks per thread: late workers cost less
  if (t <= 1 || tasks <= 1) {
    f(int64_t(0), n);
    return;
  }
  struct Ctx {
    F* f;
    int64_t n;
  } ctx{&f, n};
  pool_run(int(tasks), [](void* p, int task, int ntasks) {
    Ctx* c = static_cast<Ctx*>(p);
    int64_t chunk = (c->n + ntasks - 1) / ntasks;
    chunk = (chunk + 15) & ~int64_t(15);  // keep chunks vector-aligned
    int64_t b = chunk * task, e = b + chunk;
    if (e > c->n) e = c->n;
    if (b < e) (*c->f)(b, e);
  }, &ctx);
}

// Runs f(i) for every i in [0, n), one pool task each (claimed one at a time,
// so uneven tasks balance themselves). For coarse work items such as GEMM
// tiles, where parallel_for's 16-aligned chunks would hand most items to one
// thread. Which thread runs an item never changes what it computes.
template <class F>
void parallel_tasks(int64_t n, F&& f) {
  if (n <= 0) return;
  if (pool_threads() <= 1 || n == 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  const int64_t per = (n + 0xfffe) / 0xffff;  // items per task; 1 unless n > 65535
  struct Ctx {
    F* f;
    int64_t n, per;
  } ctx{&f, n, per};
  pool_run(int((n + per - 1) / per), [](void* p, int task, int) {
    Ctx* c = static_cast<Ctx*>(p);
    const int64_t b = int64_t(task) * c->per, e = b + c->per < c->n ? b + c->per : c->n;
    for (int64_t i = b; i < e; ++i) (*c->f)(i);
  }, &ctx);
}

// ---- BLAS (blas.cc) ---------------------------------------------------------
const char* blas_name();
void blas_set_threads(int n);
// true: OpenBLAS threads each GEMM; false (default): pool-run 1-thread tiles.
void blas_set_mode(bool blasThreading);
bool blas_mode();
// C[b] = op(A[b]) * op(B[b]) (+ bias row), for b in [0,batch). strideA/B may
// be 0 (broadcast). bias, if non-null, has N elements added to every row.
// Runs as pool tasks over 128-wide tiles of C (see blas.cc).
void gemm(const float* A, const float* B, float* C, int64_t batch, int64_t M, int64_t N, int64_t K,
          bool transA, bool transB, int64_t strideA, int64_t strideB, const float* bias);

// ---- element-wise (elementwise.cc) -----------------------------------------
enum UnaryOp {
  U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_ERF, U_NEG, U_SQUARE, U_ABS,
  U_RELU, U_RELU6, U_ELU, U_LEAKYRELU, U_RECIPROCAL, U_SOFTPLUS, U_SIN, U_COS,
  U_LOG1P, U_EXPM1, U_STEP, U_SELU, U_COUNT
};
enum BinaryOp {
  B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_SQDIFF, B_POW, B_PRELU, B_COUNT
};
void unary(int op, const float* x, float* y, int64_t n, float alpha);
// Shapes are right-aligned numpy-style; outShape is the broadcast shape.
// Returns false if shapes are inconsistent.
bool binary(int op, const float* a, const int64_t* aShape, int aRank, const float* b,
            const int64_t* bShape, int bRank, float* out, const int64_t* outShape, int outRank);

// ---- fused GPT-2 kernels (fused.cc) ----------------------------------------
// y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) and its derivative times dy.
void gelu_tanh(const float* x, float* y, int64_t n);
void gelu_tanh_grad(const float* x, const float* dy, float* dx, int64_t n);
void rope(const float* x, const float* cs, const float* sn, float* y, int64_t B, int64_t T, int64_t N, int64_t D,
          bool grad);
// The float32 constants of one AdamW step (see fused.cc adamw).
struct AdamWScalars {
  bool decay;
  float c, b1, omb1, b2, omb2, bc2, eps, step;
};
void adamw(const float* p, const float* g, const float* m, const float* v, float* po, float* mo, float* vo, int64_t n,
           const AdamWScalars& s);
// LayerNorm over the last axis of [rows, n] (biased variance); b may be null.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t n, float eps);
// dx [rows, n]; dw, db [n]; any of the three may be null (not computed).
void layer_norm_grad(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t rows,
                     int64_t n, float eps);

// ---- reductions (reduce.cc) ------------------------------------------------
enum ReduceOp { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_COUNT };
// x viewed as [A, R, B]; out is [A, B].
void reduce(int op, const float* x, float* out, int64_t A, int64_t R, int64_t B);
// Row-wise softmax over the last axis of [rows, n].
void softmax(const float* x, float* y, int64_t rows, int64_t n);

// ---- data movement (movement.cc) -------------------------------------------
// 4-byte elements. x viewed as [outer, dim, inner]; out [outer, nIdx, inner].
// Returns -1 on success or the position of the first out-of-range index.
int64_t gather(const uint32_t* x, const int32_t* idx, uint32_t* out, int64_t outer, int64_t dim,
               int64_t inner, int64_t nIdx);
// out[numSeg, inner] = sum over rows r of x[r, :] into out[ids[r], :];
// ids outside [0, numSeg) are ignored (like tfjs 'cpu').
void segment_sum(const float* x, const int32_t* ids, float* out, int64_t rows, int64_t inner,
                 int64_t numSeg);
void transpose(const uint32_t* x, uint32_t* out, const int64_t* shape, const int64_t* perm, int rank);
// Strided N-d slice copy: out = x[begin : begin+size] (4-byte elements).
void slice(const uint32_t* x, uint32_t* out, const int64_t* shape, const int64_t* begin,
           const int64_t* size, int rank);
// Concatenation along one axis viewed as 2-D: input i is [outer, inner[i]],
// out is [outer, sum(inner)] (4-byte elements).
void concat(const uint32_t* const* xs, const int64_t* inner, int n, uint32_t* out, int64_t outer);
void copy(const void* src, void* dst, int64_t bytes);

}  // namespace llmdbg
