// fused.cc — one-pass forward and backward kernels for GPT-2's tanh GELU and
// LayerNorm.
//
// Purpose: the composite tf-op versions of these two functions run 7 (GELU)
// and 9 (LayerNorm) element-wise kernels forward and about twice as many
// backward, each streaming a whole activation through memory; here each is one
// pass (two for the LayerNorm parameter gradients). src/engine/fused.ts
// registers them as tfjs kernels of the 'native' backend and the model layers
// use them when the active backend has them (other backends keep the
// composite).
// Determinism: every output element is computed by a fixed sequence of float
// operations that does not depend on the thread count: rows (LayerNorm) or
// elements (GELU) are independent, and the parameter gradients dw/db are summed
// per column over the rows in order.
// Also one AdamW step per parameter and rotary embeddings forward and backward:
// these two reproduce their composites (src/train/adamw.ts, src/model/layers/rope.ts)
// bit for bit, so the bundled Llama-shaped demo model trains to the same bytes.
// Non-goals: other activations or RMSNorm (the Llama family keeps that composite);
// fp16.
#include <cmath>
#include <vector>

#include "common.h"
#include "vmath.h"

namespace llmdbg {

static const float kSqrt2OverPi = 0.7978845608028654f;
static const float kGeluC = 0.044715f;

LLMDBG_CLONES
static void gelu_range(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float t = vtanh(kSqrt2OverPi * (v + kGeluC * v * v * v));
    y[i] = 0.5f * v * (1.0f + t);
  }
}

LLMDBG_CLONES
static void gelu_grad_range(const float* __restrict x, const float* __restrict dy, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float t = vtanh(kSqrt2OverPi * (v + kGeluC * v * v * v));
    // d/dx 0.5 x (1 + t) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2)
    const float inner = kSqrt2OverPi * (1.0f + 3.0f * kGeluC * v * v);
    dx[i] = dy[i] * 0.5f * ((1.0f + t) + v * (1.0f - t * t) * inner);
  }
}

static const int64_t kGrain = 1 << 14;

void gelu_tanh(const float* x, float* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { gelu_range(x + b, y + b, e - b); });
}

void gelu_tanh_grad(const float* x, const float* dy, float* dx, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { gelu_grad_range(x + b, dy + b, dx + b, e - b); });
}

// Sum of a row with 8 interleaved accumulators (vectorises; fixed order).
LLMDBG_CLONES
static float row_sum(const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
  for (; i < n; ++i) acc[i & 7] += x[i];
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

// Mean and 1/sqrt(biased variance + eps) of one row (two passes, like the composite).
LLMDBG_CLONES
static void row_stats(const float* x, int64_t n, float eps, float* mean, float* rstd) {
  const float m = row_sum(x, n) / float(n);
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const float d = x[i + j] - m;
      acc[j] += d * d;
    }
  for (; i < n; ++i) {
    const float d = x[i] - m;
    acc[i & 7] += d * d;
  }
  const float var = (((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))) / float(n);
  *mean = m;
  *rstd = 1.0f / std::sqrt(var + eps);
}

LLMDBG_CLONES
static void ln_row(const float* __restrict x, const float* __restrict w, const float* __restrict b, float* __restrict y,
                   int64_t n, float eps) {
  float m, r;
  row_stats(x, n, eps, &m, &r);
  if (b)
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * r * w[i] + b[i];
  else
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * r * w[i];
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t rows, int64_t n, float eps) {
  if (n <= 0) return;
  parallel_for(rows, (16384 + n - 1) / n, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) ln_row(x + r * n, w, b, y + r * n, n, eps);
  });
}

// dx of one row: with xh = (x - mean) rstd and g = dy w,
// dx = rstd (g - mean(g) - xh mean(g xh)).
LLMDBG_CLONES
static void ln_grad_row(const float* __restrict x, const float* __restrict w, const float* __restrict dy,
                        float* __restrict dx, int64_t n, float m, float r) {
  float a1[8] = {0, 0, 0, 0, 0, 0, 0, 0}, a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      const float g = dy[i + j] * w[i + j];
      a1[j] += g;
      a2[j] += g * ((x[i + j] - m) * r);
    }
  for (; i < n; ++i) {
    const float g = dy[i] * w[i];
    a1[i & 7] += g;
    a2[i & 7] += g * ((x[i] - m) * r);
  }
  const float inv = 1.0f / float(n);
  const float mg = (((a1[0] + a1[4]) + (a1[2] + a1[6])) + ((a1[1] + a1[5]) + (a1[3] + a1[7]))) * inv;
  const float mgx = (((a2[0] + a2[4]) + (a2[2] + a2[6])) + ((a2[1] + a2[5]) + (a2[3] + a2[7]))) * inv;
  for (i = 0; i < n; ++i) dx[i] = r * (dy[i] * w[i] - mg - ((x[i] - m) * r) * mgx);
}

// dw[j] += dy[r, j] xh[r, j], db[j] += dy[r, j] over rows in order, for columns [j0, j1).
LLMDBG_CLONES
static void ln_param_cols(const float* __restrict x, const float* __restrict dy, const float* __restrict stats,
                          float* __restrict dw, float* __restrict db, int64_t rows, int64_t n, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    if (dw) dw[j] = 0.0f;
    if (db) db[j] = 0.0f;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float m = stats[2 * r], s = stats[2 * r + 1];
    const float* xr = x + r * n;
    const float* gr = dy + r * n;
    if (dw)
      for (int64_t j = j0; j < j1; ++j) dw[j] += gr[j] * ((xr[j] - m) * s);
    if (db)
      for (int64_t j = j0; j < j1; ++j) db[j] += gr[j];
  }
}

void layer_norm_grad(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, int64_t rows,
                     int64_t n, float eps) {
  if (n <= 0 || rows <= 0) return;
  std::vector<float> stats(size_t(2 * rows));
  float* st = stats.data();
  parallel_for(rows, (16384 + n - 1) / n, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      row_stats(x + r * n, n, eps, &st[2 * r], &st[2 * r + 1]);
      if (dx) ln_grad_row(x + r * n, w, dy + r * n, dx + r * n, n, st[2 * r], st[2 * r + 1]);
    }
  });
  if (!dw && !db) return;
  const int64_t kCols = 64;
  const int64_t blocks = (n + kCols - 1) / kCols;
  parallel_tasks(rows * n < (1 << 16) ? 1 : blocks, [&](int64_t t) {
    const bool whole = rows * n < (1 << 16);
    const int64_t j0 = whole ? 0 : t * kCols, j1 = whole ? n : (j0 + kCols < n ? j0 + kCols : n);
    ln_param_cols(x, dy, st, dw, db, rows, n, j0, j1);
  });
}

// One AdamW step for one parameter, element by element, with the float32
// operations of src/train/adamw.ts's composite in the same order (each one
// rounded: the build is ISO C++, so no fused multiply-add contraction), so the
// weights come out bit for bit as the composite's:
//   p' = (decay ? p * c : p) - (m' / (sqrt(v') / bc2 + eps)) * step
//   m' = m * b1 + g * (1 - b1),  v' = v * b2 + (g * g) * (1 - b2)
static void adamw_range(const float* __restrict p, const float* __restrict g, const float* __restrict m,
                        const float* __restrict v, float* __restrict po, float* __restrict mo, float* __restrict vo,
                        int64_t n, const AdamWScalars& s) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float dec = s.decay ? p[i] * s.c : p[i];
    const float t1 = m[i] * s.b1, t2 = gi * s.omb1;
    const float mi = t1 + t2;
    const float gg = gi * gi;
    const float t3 = v[i] * s.b2, t4 = gg * s.omb2;
    const float vi = t3 + t4;
    const float den = std::sqrt(vi) / s.bc2 + s.eps;
    const float upd = (mi / den) * s.step;
    po[i] = dec - upd;
    mo[i] = mi;
    vo[i] = vi;
  }
}

void adamw(const float* p, const float* g, const float* m, const float* v, float* po, float* mo, float* vo, int64_t n,
           const AdamWScalars& s) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { adamw_range(p + b, g + b, m + b, v + b, po + b, mo + b, vo + b, e - b, s); });
}

// Rotary embeddings (Llama family), x [rows = B T N... as B, T, N, D] with cos,
// sin [T, D]: y = x c + r s, r = [-x2, x1] (the halves of the last axis), each
// product and the sum rounded as the composite of src/model/layers/rope.ts.
// The gradient sums the composite's three backward paths in tfjs' order:
// (dy c + pad(-(dy s)_1 into the 2nd half)) + pad((dy s)_2 into the 1st half),
// the zero terms included (they decide the sign of a zero).
void rope(const float* x, const float* cs, const float* sn, float* y, int64_t B, int64_t T, int64_t N, int64_t D,
          bool grad) {
  const int64_t h = D / 2, rowsPerT = N;
  parallel_for(B * T * N, (16384 + D - 1) / (D > 0 ? D : 1), [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const int64_t t = (r / rowsPerT) % T;
      const float* xr = x + r * D;
      const float* c = cs + t * D;
      const float* sv = sn + t * D;
      float* yr = y + r * D;
      if (!grad) {
        for (int64_t d = 0; d < h; ++d) {
          const float a = xr[d] * c[d], b = (-xr[d + h]) * sv[d];
          yr[d] = a + b;
        }
        for (int64_t d = h; d < D; ++d) {
          const float a = xr[d] * c[d], b = xr[d - h] * sv[d];
          yr[d] = a + b;
        }
      } else {
        for (int64_t d = 0; d < h; ++d) {
          const float a = xr[d] * c[d];
          const float z = a + 0.0f;
          const float p1 = xr[d + h] * sv[d + h];
          yr[d] = z + p1;
        }
        for (int64_t d = h; d < D; ++d) {
          const float a = xr[d] * c[d];
          const float p2 = -(xr[d - h] * sv[d - h]);
          const float z = a + p2;
          yr[d] = z + 0.0f;
        }
      }
    }
  });
}

}  // namespace llmdbg
