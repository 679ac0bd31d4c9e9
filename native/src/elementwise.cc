// elementwise.cc — unary and broadcasting binary float32 kernels.
//
// Purpose: the element-wise tfjs kernels (Exp, Tanh, Add, Mul, ...). Binary
// ops collapse the broadcast pattern into [rows, n] where each operand's
// innermost stride is 0 or 1, so the inner loop is a plain vectorisable loop.
// Hot loops are compiled twice (AVX2 and baseline) and picked at load time
// by the CPU (GCC/Clang target_clones); results do not depend on the thread
// count (pure element-wise maps).
// Non-goals: int32/bool/complex dtypes (handled by tfjs 'cpu' kernels).
// LIMITATION: log/sin/cos/log1p/expm1/pow call scalar libm (not vectorised).
#include <cmath>
#include <vector>

#include "common.h"
#include "vmath.h"

namespace llmdbg {

#define MAP(expr)                                                     \
  for (int64_t i = 0; i < n; ++i) {                                   \
    const float v = x[i];                                             \
    y[i] = (expr);                                                    \
  }                                                                   \
  break;

LLMDBG_CLONES
static void unary_range(int op, const float* __restrict x, float* y, int64_t n, float alpha) {
  // Note: y may alias x (in-place activation), hence no __restrict on y.
  switch (op) {
    case U_EXP: MAP(vexp(v))
    case U_LOG: MAP(std::log(v))
    case U_SQRT: MAP(std::sqrt(v))
    case U_RSQRT: MAP(1.0f / std::sqrt(v))
    case U_TANH: MAP(vtanh(v))
    case U_SIGMOID: MAP(vsigmoid(v))
    case U_ERF: MAP(verf(v))
    case U_NEG: MAP(-v)
    case U_SQUARE: MAP(v * v)
    case U_ABS: MAP(std::fabs(v))
    case U_RELU: MAP(v < 0.0f ? 0.0f : v)
    case U_RELU6: MAP(v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v))
    case U_ELU: MAP(v >= 0.0f ? v : vexp(v) - 1.0f)
    case U_LEAKYRELU: MAP(v < 0.0f ? alpha * v : v)
    case U_RECIPROCAL: MAP(1.0f / v)
    case U_SOFTPLUS: {
      // Mirrors tfjs: exp(x) below log(eps)+2, x above -(log(eps)+2).
      const float th = -13.942385152878742f;  // Math.log(2^-23) + 2
      MAP(v < th ? vexp(v) : (v > -th ? v : std::log1p(vexp(v))))
    }
    case U_SIN: MAP(std::sin(v))
    case U_COS: MAP(std::cos(v))
    case U_LOG1P: MAP(std::log1p(v))
    case U_EXPM1: MAP(std::expm1(v))
    case U_STEP: MAP(v != v ? v : (v > 0.0f ? 1.0f : alpha))
    case U_SELU: {
      const float sa = 1.7580993408473768599402175208123f, sc = 1.0507009873554804934193349852946f;
      MAP(v >= 0.0f ? sc * v : sa * (vexp(v) - 1.0f))
    }
    default: break;
  }
}
#undef MAP

// Memory-bound ops only go parallel for large tensors: waking a worker costs
// more than streaming a few hundred KB through one core.
static const int64_t kCheapGrain = 1 << 18;
static const int64_t kCostlyGrain = 1 << 14;

static bool costly_unary(int op) {
  switch (op) {
    case U_NEG: case U_SQUARE: case U_ABS: case U_RELU: case U_RELU6: case U_LEAKYRELU: case U_STEP:
      return false;
    default:
      return true;
  }
}

void unary(int op, const float* x, float* y, int64_t n, float alpha) {
  parallel_for(n, costly_unary(op) ? kCostlyGrain : kCheapGrain,
               [&](int64_t b, int64_t e) { unary_range(op, x + b, y + b, e - b, alpha); });
}

// ---------------------------------------------------------------------------

template <class F>
static inline void bin_loop(const float* a, int sa, const float* b, int sb, float* o, int64_t n, F f) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (sb) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    const float r = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) o[i] = r;
  }
}

LLMDBG_CLONES
static void binary_row(int op, const float* a, int sa, const float* b, int sb, float* o, int64_t n) {
  switch (op) {
    case B_ADD: bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p + q; }); break;
    case B_SUB: bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p - q; }); break;
    case B_MUL: bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p * q; }); break;
    case B_DIV: bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p / q; }); break;
    case B_MAX:  // NaN-propagating like Math.max
      bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p != p ? p : (p > q ? p : q); });
      break;
    case B_MIN:
      bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p != p ? p : (p < q ? p : q); });
      break;
    case B_SQDIFF:
      bin_loop(a, sa, b, sb, o, n, [](float p, float q) { float d = p - q; return d * d; });
      break;
    case B_POW:
      if (!sb && b[0] == 2.0f) {
        bin_loop(a, sa, b, sb, o, n, [](float p, float) { return p * p; });
      } else if (!sb && b[0] == 3.0f) {
        bin_loop(a, sa, b, sb, o, n, [](float p, float) { return p * p * p; });
      } else {
        bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return std::pow(p, q); });
      }
      break;
    case B_PRELU:
      bin_loop(a, sa, b, sb, o, n, [](float p, float q) { return p < 0.0f ? q * p : p; });
      break;
    default: break;
  }
}

namespace {
struct Dim {
  int64_t size, sa, sb;  // strides in elements (0 = broadcast)
};
}  // namespace

bool binary(int op, const float* a, const int64_t* aShape, int aRank, const float* b, const int64_t* bShape,
            int bRank, float* out, const int64_t* outShape, int outRank) {
  if (aRank > outRank || bRank > outRank) return false;
  // Right-align, drop size-1 output dims, merge dims with equal broadcast flags.
  struct Flag {
    int64_t size;
    bool fa, fb;
  };
  std::vector<Flag> fl;
  int64_t total = 1;
  for (int d = 0; d < outRank; ++d) {
    int64_t od = outShape[d];
    int64_t ad = d >= outRank - aRank ? aShape[d - (outRank - aRank)] : 1;
    int64_t bd = d >= outRank - bRank ? bShape[d - (outRank - bRank)] : 1;
    if ((ad != od && ad != 1) || (bd != od && bd != 1)) return false;
    total *= od;
    if (od == 1) continue;
    bool fa = ad == od, fb = bd == od;
    if (!fl.empty() && fl.back().fa == fa && fl.back().fb == fb) {
      fl.back().size *= od;
    } else {
      fl.push_back({od, fa, fb});
    }
  }
  if (total == 0) return true;
  if (fl.empty()) {
    binary_row(op, a, 0, b, 0, out, 1);
    return true;
  }
  std::vector<Dim> dims(fl.size());
  int64_t accA = 1, accB = 1;
  for (int i = int(fl.size()) - 1; i >= 0; --i) {
    dims[i] = {fl[i].size, fl[i].fa ? accA : 0, fl[i].fb ? accB : 0};
    if (fl[i].fa) accA *= fl[i].size;
    if (fl[i].fb) accB *= fl[i].size;
  }
  const int nd = int(dims.size());
  if (nd > 16) return false;  // LIMITATION: > 16 distinct broadcast dims -> cpu fallback
  const int64_t n0 = dims[nd - 1].size;
  const int sa0 = dims[nd - 1].sa ? 1 : 0, sb0 = dims[nd - 1].sb ? 1 : 0;
  parallel_for(total, op == B_POW ? kCostlyGrain : kCheapGrain, [&](int64_t s, int64_t e) {
    int64_t row = s / n0, col = s % n0;
    // Decompose `row` over the outer dims (odometer).
    int64_t idx[16] = {0};
    int64_t offA = 0, offB = 0, r = row;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = r % dims[d].size;
      r /= dims[d].size;
      offA += idx[d] * dims[d].sa;
      offB += idx[d] * dims[d].sb;
    }
    int64_t pos = s;
    while (pos < e) {
      int64_t len = n0 - col;
      if (len > e - pos) len = e - pos;
      binary_row(op, a + offA + col * sa0, sa0, b + offB + col * sb0, sb0, out + pos, len);
      pos += len;
      col = 0;
      for (int d = nd - 2; d >= 0; --d) {  // advance the odometer
        offA += dims[d].sa;
        offB += dims[d].sb;
        if (++idx[d] < dims[d].size) break;
        offA -= dims[d].sa * dims[d].size;
        offB -= dims[d].sb * dims[d].size;
        idx[d] = 0;
      }
    }
  });
  return true;
}

}  // namespace llmdbg
