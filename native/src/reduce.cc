// reduce.cc — Sum / Mean / Max / Min / Prod reductions and row softmax.
//
// Purpose: reduce x viewed as [A, R, B] to [A, B] (the TypeScript side makes
// the reduced axes one contiguous block, transposing first if needed).
// Determinism: every output element is accumulated by one thread in a fixed
// order (8 interleaved double accumulators for rows, sequential over R for
// columns); a full reduction of a long vector uses fixed 16384-element
// blocks combined in order. Partitioning depends on shapes only, never on
// the thread count or timing, so the bytes are identical for any thread count.
// Non-goals: Kahan summation, int32 accumulation (int dtypes use tfjs 'cpu').
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"
#include "vmath.h"

namespace llmdbg {

static const int64_t kBlock = 16384;  // full-reduction block (shape-only constant)
// Work (elements) per parallel task: reductions are memory-bound, so small
// tensors stay on the calling thread.
static const int64_t kGrain = 1 << 17;

LLMDBG_CLONES
static double row_sum(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += double(x[i + j]);
  for (; i < n; ++i) acc[i & 7] += double(x[i]);
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

LLMDBG_CLONES
static float row_max(const float* x, int64_t n, bool isMax) {
  // NaN-propagating like tfjs 'cpu'; GCC/Clang vector extensions (SSE2 or
  // better) because compilers will not vectorise a NaN-aware max themselves.
  const float sign = isMax ? 1.0f : -1.0f;  // min(x) = -max(-x)
  const v4f sv = {sign, sign, sign, sign};
  v4f m0 = sv * x[0], m1 = m0;
  v4i nan = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4f a, b;
    std::memcpy(&a, x + i, 16);
    std::memcpy(&b, x + i + 4, 16);
    a *= sv;
    b *= sv;
    const v4i ga = a > m0, gb = b > m1;
    m0 = (v4f)(((v4i)a & ga) | ((v4i)m0 & ~ga));
    m1 = (v4f)(((v4i)b & gb) | ((v4i)m1 & ~gb));
    nan |= (a != a) | (b != b);
  }
  float r = m0[0];
  bool anyNan = false;
  for (int j = 0; j < 4; ++j) {
    r = m0[j] > r ? m0[j] : r;
    r = m1[j] > r ? m1[j] : r;
    anyNan = anyNan || nan[j] != 0;
  }
  for (; i < n; ++i) {
    const float v = sign * x[i];
    r = v > r ? v : r;
    anyNan = anyNan || v != v;
  }
  return anyNan ? NAN : sign * r;
}

static double row_prod(const float* x, int64_t n) {
  double p = 1.0;
  for (int64_t i = 0; i < n; ++i) p *= double(x[i]);
  return p;
}

static float reduce_row(int op, const float* x, int64_t n) {
  switch (op) {
    case R_SUM: return float(row_sum(x, n));
    case R_MEAN: return n ? float(row_sum(x, n) / double(n)) : 0.0f;
    case R_MAX: return n ? row_max(x, n, true) : NAN;
    case R_MIN: return n ? row_max(x, n, false) : NAN;
    case R_PROD: return float(row_prod(x, n));
  }
  return 0.0f;
}

// Columns: out[b] = op_r x[r*B + b] for b in [b0, b1).
LLMDBG_CLONES
static void reduce_cols(int op, const float* x, float* out, int64_t R, int64_t B, int64_t b0, int64_t b1) {
  const int64_t w = b1 - b0;
  double acc[256];
  if (op == R_SUM || op == R_MEAN || op == R_PROD) {
    const double init = op == R_PROD ? 1.0 : 0.0;
    for (int64_t j = 0; j < w; ++j) acc[j] = init;
    for (int64_t r = 0; r < R; ++r) {
      const float* row = x + r * B + b0;
      if (op == R_PROD) {
        for (int64_t j = 0; j < w; ++j) acc[j] *= double(row[j]);
      } else {
        for (int64_t j = 0; j < w; ++j) acc[j] += double(row[j]);
      }
    }
    const double scale = op == R_MEAN && R ? 1.0 / double(R) : 1.0;
    for (int64_t j = 0; j < w; ++j) out[b0 + j] = float(op == R_MEAN ? acc[j] * scale : acc[j]);
    return;
  }
  const bool isMax = op == R_MAX;
  float m[256];
  for (int64_t j = 0; j < w; ++j) m[j] = R ? x[b0 + j] : NAN;
  for (int64_t r = 1; r < R; ++r) {
    const float* row = x + r * B + b0;
    for (int64_t j = 0; j < w; ++j) {
      const float v = row[j];
      const bool take = v != v || (isMax ? v > m[j] : v < m[j]);
      m[j] = take ? v : m[j];
    }
  }
  for (int64_t j = 0; j < w; ++j) out[b0 + j] = m[j];
}

void reduce(int op, const float* x, float* out, int64_t A, int64_t R, int64_t B) {
  if (A <= 0 || B <= 0) return;
  if (B == 1) {
    if (A == 1 && R > 2 * kBlock && (op == R_SUM || op == R_MEAN)) {
      const int64_t nb = (R + kBlock - 1) / kBlock;
      std::vector<double> part(size_t(nb), 0.0);
      parallel_for(nb, kGrain / kBlock, [&](int64_t s, int64_t e) {
        for (int64_t k = s; k < e; ++k) {
          const int64_t lo = k * kBlock, hi = lo + kBlock < R ? lo + kBlock : R;
          part[size_t(k)] = row_sum(x + lo, hi - lo);
        }
      });
      double total = 0.0;
      for (double p : part) total += p;
      out[0] = float(op == R_MEAN ? total / double(R) : total);
      return;
    }
    int64_t grain = R > 0 ? (kGrain + R - 1) / R : A;
    parallel_for(A, grain, [&](int64_t s, int64_t e) {
      for (int64_t a = s; a < e; ++a) out[a] = reduce_row(op, x + a * R, R);
    });
    return;
  }
  const int64_t W = 256;
  const int64_t chunks = (B + W - 1) / W;
  int64_t grain = (kGrain + R * W - 1) / (R * W > 0 ? R * W : 1);
  parallel_for(A * chunks, grain < 1 ? 1 : grain, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; ++t) {
      const int64_t a = t / chunks, c = t % chunks;
      const int64_t b0 = c * W, b1 = b0 + W < B ? b0 + W : B;
      reduce_cols(op, x + a * R * B, out + a * B, R, B, b0, b1);
    }
  });
}

LLMDBG_CLONES
static void softmax_row(const float* x, float* y, int64_t n) {
  float m[8];
  for (int j = 0; j < 8; ++j) m[j] = x[0];
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  for (; i < n; ++i) m[0] = x[i] > m[0] ? x[i] : m[0];
  float mx = m[0];
  for (int j = 1; j < 8; ++j) mx = m[j] > mx ? m[j] : mx;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const float e = vexp(x[i + j] - mx);
      y[i + j] = e;
      acc[j] += e;
    }
  for (; i < n; ++i) {
    y[i] = vexp(x[i] - mx);
    acc[i & 7] += y[i];
  }
  const float sum = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (i = 0; i < n; ++i) y[i] = y[i] / sum;
}

void softmax(const float* x, float* y, int64_t rows, int64_t n) {
  if (n <= 0) return;
  int64_t grain = (16384 + n - 1) / n;  // exp-bound: ~40 us of work per task
  parallel_for(rows, grain, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) softmax_row(x + r * n, y + r * n, n);
  });
}

}  // namespace llmdbg
