// addon.cc — Node-API bindings for the llmdbg native kernels.
//
// Purpose: validate JS arguments (typed arrays, sizes, shapes) and call the
// C++ kernels synchronously on the JS thread. Every buffer length is checked
// against the dimensions before any pointer is touched, so a bug on the
// TypeScript side throws a RangeError instead of corrupting memory.
// Non-goals: async work, owning memory (outputs are caller-allocated typed
// arrays), node-addon-api (plain C API keeps the build dependency-free).
#define NAPI_VERSION 8
#include <node_api.h>

#include <cstdio>
#include <vector>

#include "common.h"

using namespace llmdbg;

namespace {

struct Args {
  napi_env env;
  napi_value v[16];
  size_t n = 16;
  bool failed = false;
  Args(napi_env e, napi_callback_info info) : env(e) {
    napi_get_cb_info(env, info, &n, v, nullptr, nullptr);
  }
  void fail(const char* msg) {
    if (!failed) napi_throw_range_error(env, nullptr, msg);
    failed = true;
  }
  int64_t i64(size_t k) {
    int64_t r = 0;
    if (k >= n || napi_get_value_int64(env, v[k], &r) != napi_ok) fail("llmdbg_native: expected integer argument");
    return r;
  }
  double f64(size_t k) {
    double r = 0;
    if (k >= n || napi_get_value_double(env, v[k], &r) != napi_ok) fail("llmdbg_native: expected number argument");
    return r;
  }
  bool flag(size_t k) {
    bool r = false;
    if (k >= n || napi_get_value_bool(env, v[k], &r) != napi_ok) fail("llmdbg_native: expected boolean argument");
    return r;
  }
  bool isNull(size_t k) {
    napi_valuetype t;
    return k >= n || (napi_typeof(env, v[k], &t) == napi_ok && (t == napi_null || t == napi_undefined));
  }
  // Typed array of 4-byte elements; `wantFloat` restricts to Float32Array.
  void* arr(size_t k, int64_t* len, bool wantFloat, bool wantInt = false) {
    *len = 0;
    bool is = false;
    if (k >= n || napi_is_typedarray(env, v[k], &is) != napi_ok || !is) {
      fail("llmdbg_native: expected a typed array");
      return nullptr;
    }
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_get_typedarray_info(env, v[k], &type, &length, &data, nullptr, nullptr);
    bool ok = wantFloat ? type == napi_float32_array
              : wantInt ? type == napi_int32_array
                        : (type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array);
    if (!ok) fail(wantFloat ? "llmdbg_native: expected Float32Array" : "llmdbg_native: expected 4-byte typed array");
    *len = int64_t(length);
    return data;
  }
  float* f32(size_t k, int64_t* len) { return static_cast<float*>(arr(k, len, true)); }
  std::vector<int64_t> shape(size_t k) {
    std::vector<int64_t> out;
    bool isArr = false;
    if (k >= n || napi_is_array(env, v[k], &isArr) != napi_ok || !isArr) {
      fail("llmdbg_native: expected an array of integers");
      return out;
    }
    uint32_t len = 0;
    napi_get_array_length(env, v[k], &len);
    for (uint32_t i = 0; i < len; ++i) {
      napi_value e;
      int64_t d = -1;
      napi_get_element(env, v[k], i, &e);
      if (napi_get_value_int64(env, e, &d) != napi_ok || d < 0) fail("llmdbg_native: bad dimension");
      out.push_back(d);
    }
    return out;
  }
};

int64_t prod(const std::vector<int64_t>& s) {
  int64_t p = 1;
  for (int64_t d : s) p *= d;
  return p;
}

napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value num(napi_env env, double d) {
  napi_value r;
  napi_create_double(env, d, &r);
  return r;
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value o, s;
  napi_create_object(env, &o);
  napi_create_string_utf8(env, blas_name(), NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "blas", s);
  napi_set_named_property(env, o, "threads", num(env, pool_threads()));
  const char* simd = "baseline";
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2")) simd = "avx2";
#endif
  napi_create_string_utf8(env, simd, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, o, "simd", s);
  napi_value bt;
  napi_get_boolean(env, blas_mode(), &bt);
  napi_set_named_property(env, o, "blasThreading", bt);
  return o;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int64_t t = a.i64(0);
  if (a.failed) return nullptr;
  if (t < 1) t = 1;
  pool_set_threads(int(t));
  blas_set_threads(int(t));
  return undef(env);
}

// setBlasThreading(on): OpenBLAS threads each GEMM (true) or pool tiles (false).
napi_value SetBlasThreading(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool on = a.flag(0);
  if (a.failed) return nullptr;
  blas_set_mode(on);
  return undef(env);
}

// gemm(a, b, c, batch, M, N, K, transA, transB, strideA, strideB, bias|null)
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t la, lb, lc, lbias = 0;
  float* A = g.f32(0, &la);
  float* B = g.f32(1, &lb);
  float* C = g.f32(2, &lc);
  int64_t batch = g.i64(3), M = g.i64(4), N = g.i64(5), K = g.i64(6);
  bool ta = g.flag(7), tb = g.flag(8);
  int64_t sA = g.i64(9), sB = g.i64(10);
  float* bias = g.isNull(11) ? nullptr : g.f32(11, &lbias);
  if (g.failed) return nullptr;
  if (batch < 0 || M < 0 || N < 0 || K < 0 || sA < 0 || sB < 0 || (bias && lbias < N) ||
      M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff)
    return g.fail("gemm: bad dimensions"), nullptr;
  if (batch > 0 && M * N > 0) {
    if (lc < batch * M * N || la < (batch - 1) * sA + M * K || lb < (batch - 1) * sB + K * N)
      return g.fail("gemm: buffer too small"), nullptr;
  }
  gemm(A, B, C, batch, M, N, K, ta, tb, sA, sB, bias);
  return undef(env);
}

napi_value Unary(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t op = g.i64(0), lx, ly;
  float* x = g.f32(1, &lx);
  float* y = g.f32(2, &ly);
  double alpha = g.f64(3);
  if (g.failed) return nullptr;
  if (op < 0 || op >= U_COUNT || ly < lx) return g.fail("unary: bad op or sizes"), nullptr;
  unary(int(op), x, y, lx, float(alpha));
  return undef(env);
}

// binary(op, a, aShape, b, bShape, out, outShape) -> boolean (false: shapes unsupported)
napi_value Binary(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t op = g.i64(0), la, lb, lo;
  float* a = g.f32(1, &la);
  std::vector<int64_t> as = g.shape(2);
  float* b = g.f32(3, &lb);
  std::vector<int64_t> bs = g.shape(4);
  float* o = g.f32(5, &lo);
  std::vector<int64_t> os = g.shape(6);
  if (g.failed) return nullptr;
  if (op < 0 || op >= B_COUNT || la < prod(as) || lb < prod(bs) || lo < prod(os))
    return g.fail("binary: bad op or sizes"), nullptr;
  bool ok = binary(int(op), a, as.data(), int(as.size()), b, bs.data(), int(bs.size()), o, os.data(),
                   int(os.size()));
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

// reduce(op, x, out, A, R, B)
napi_value Reduce(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t op = g.i64(0), lx, lo;
  float* x = g.f32(1, &lx);
  float* o = g.f32(2, &lo);
  int64_t A = g.i64(3), R = g.i64(4), B = g.i64(5);
  if (g.failed) return nullptr;
  if (op < 0 || op >= R_COUNT || A < 0 || R < 0 || B < 0 || lx < A * R * B || lo < A * B)
    return g.fail("reduce: bad op or sizes"), nullptr;
  reduce(int(op), x, o, A, R, B);
  return undef(env);
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, ly;
  float* x = g.f32(0, &lx);
  float* y = g.f32(1, &ly);
  int64_t rows = g.i64(2), n = g.i64(3);
  if (g.failed) return nullptr;
  if (rows < 0 || n < 0 || lx < rows * n || ly < rows * n) return g.fail("softmax: bad sizes"), nullptr;
  softmax(x, y, rows, n);
  return undef(env);
}

// gather(x, idx, out, outer, dim, inner) -> -1 or position of a bad index
napi_value Gather(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, li, lo;
  auto* x = static_cast<uint32_t*>(g.arr(0, &lx, false));
  auto* idx = static_cast<int32_t*>(g.arr(1, &li, false, true));
  auto* o = static_cast<uint32_t*>(g.arr(2, &lo, false));
  int64_t outer = g.i64(3), dim = g.i64(4), inner = g.i64(5);
  if (g.failed) return nullptr;
  if (outer < 0 || dim < 0 || inner < 0 || lx < outer * dim * inner || lo < outer * li * inner)
    return g.fail("gather: bad sizes"), nullptr;
  return num(env, double(gather(x, idx, o, outer, dim, inner, li)));
}

// segmentSum(x, ids, out, rows, inner, numSeg); out must be zero-filled.
napi_value SegmentSum(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, li, lo;
  float* x = g.f32(0, &lx);
  auto* ids = static_cast<int32_t*>(g.arr(1, &li, false, true));
  float* o = g.f32(2, &lo);
  int64_t rows = g.i64(3), inner = g.i64(4), numSeg = g.i64(5);
  if (g.failed) return nullptr;
  if (rows < 0 || inner < 0 || numSeg < 0 || li < rows || lx < rows * inner || lo < numSeg * inner)
    return g.fail("segmentSum: bad sizes"), nullptr;
  segment_sum(x, ids, o, rows, inner, numSeg);
  return undef(env);
}

// transpose(x, out, shape, perm)
napi_value Transpose(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, lo;
  auto* x = static_cast<uint32_t*>(g.arr(0, &lx, false));
  auto* o = static_cast<uint32_t*>(g.arr(1, &lo, false));
  std::vector<int64_t> shape = g.shape(2), perm = g.shape(3);
  if (g.failed) return nullptr;
  std::vector<bool> seen(shape.size(), false);
  bool ok = perm.size() == shape.size();
  for (size_t i = 0; ok && i < perm.size(); ++i) {
    ok = perm[i] < int64_t(shape.size()) && !seen[size_t(perm[i])];
    if (ok) seen[size_t(perm[i])] = true;
  }
  if (!ok || lx < prod(shape) || lo < prod(shape)) return g.fail("transpose: bad perm or sizes"), nullptr;
  transpose(x, o, shape.data(), perm.data(), int(shape.size()));
  return undef(env);
}

// slice(x, out, shape, begin, size)
napi_value Slice(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, lo;
  auto* x = static_cast<uint32_t*>(g.arr(0, &lx, false));
  auto* o = static_cast<uint32_t*>(g.arr(1, &lo, false));
  std::vector<int64_t> shape = g.shape(2), begin = g.shape(3), size = g.shape(4);
  if (g.failed) return nullptr;
  bool ok = begin.size() == shape.size() && size.size() == shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = begin[i] + size[i] <= shape[i];
  if (!ok || lx < prod(shape) || lo < prod(size)) return g.fail("slice: bad begin/size"), nullptr;
  slice(x, o, shape.data(), begin.data(), size.data(), int(shape.size()));
  return undef(env);
}

// concat(inputs: Array<typed array>, inner: number[], out, outer)
napi_value Concat(napi_env env, napi_callback_info info) {
  Args g(env, info);
  std::vector<int64_t> inner = g.shape(1);
  int64_t lo;
  auto* o = static_cast<uint32_t*>(g.arr(2, &lo, false));
  int64_t outer = g.i64(3);
  if (g.failed) return nullptr;
  uint32_t len = 0;
  bool isArr = false;
  if (napi_is_array(env, g.v[0], &isArr) != napi_ok || !isArr) return g.fail("concat: expected an array"), nullptr;
  napi_get_array_length(env, g.v[0], &len);
  if (len != inner.size() || outer < 0) return g.fail("concat: bad arguments"), nullptr;
  std::vector<const uint32_t*> xs(len);
  int64_t row = 0;
  for (uint32_t i = 0; i < len; ++i) {
    napi_value e;
    napi_get_element(env, g.v[0], i, &e);
    Args one = g;  // reuse the typed-array checks on a single value
    one.v[0] = e;
    one.n = 1;
    int64_t li;
    xs[i] = static_cast<const uint32_t*>(one.arr(0, &li, false));
    if (one.failed) return nullptr;
    if (li < outer * inner[i]) return g.fail("concat: input too small"), nullptr;
    row += inner[i];
  }
  if (lo < outer * row) return g.fail("concat: output too small"), nullptr;
  concat(xs.data(), inner.data(), int(len), o, outer);
  return undef(env);
}

napi_value Copy(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t ls, ld;
  void* s = g.arr(0, &ls, false);
  void* d = g.arr(1, &ld, false);
  if (g.failed) return nullptr;
  if (ld < ls) return g.fail("copy: destination too small"), nullptr;
  copy(s, d, ls * 4);
  return undef(env);
}

// adamw(p, g, m, v, pOut, mOut, vOut, decay, c, b1, 1-b1, b2, 1-b2, bc2, eps, step)
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t l[7];
  float* a[7];
  for (int k = 0; k < 7; ++k) a[k] = g.f32(size_t(k), &l[k]);
  AdamWScalars s;
  s.decay = g.flag(7);
  s.c = float(g.f64(8));
  s.b1 = float(g.f64(9));
  s.omb1 = float(g.f64(10));
  s.b2 = float(g.f64(11));
  s.omb2 = float(g.f64(12));
  s.bc2 = float(g.f64(13));
  s.eps = float(g.f64(14));
  s.step = float(g.f64(15));
  if (g.failed) return nullptr;
  for (int k = 1; k < 7; ++k)
    if (l[k] != l[0]) return g.fail("adamw: arrays of different lengths"), nullptr;
  adamw(a[0], a[1], a[2], a[3], a[4], a[5], a[6], l[0], s);
  return undef(env);
}

// rope(x, cos, sin, y, B, T, N, D, grad): forward, or (grad) the input gradient with x = dy
napi_value Rope(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, lc, ls, ly;
  float* x = g.f32(0, &lx);
  float* c = g.f32(1, &lc);
  float* s = g.f32(2, &ls);
  float* y = g.f32(3, &ly);
  int64_t B = g.i64(4), T = g.i64(5), N = g.i64(6), D = g.i64(7);
  bool grad = g.flag(8);
  if (g.failed) return nullptr;
  if (B < 0 || T < 0 || N < 0 || D < 0 || D % 2 != 0 || lx < B * T * N * D || ly < B * T * N * D || lc < T * D || ls < T * D)
    return g.fail("rope: bad sizes"), nullptr;
  rope(x, c, s, y, B, T, N, D, grad);
  return undef(env);
}

// misalignment(x): the address of x's first element modulo 64. OpenBLAS packs a
// right-hand operand ~10% slower when it is not 64-byte aligned (malloc gives
// 16), so the pool and the backend's write() place large arrays at aligned offsets.
napi_value Misalignment(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t len;
  void* x = g.arr(0, &len, false);
  if (g.failed) return nullptr;
  return num(env, double(reinterpret_cast<uintptr_t>(x) & 63));
}

// geluTanh(x, y) / geluTanhGrad(x, dy, dx)
napi_value GeluTanh(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, ly;
  float* x = g.f32(0, &lx);
  float* y = g.f32(1, &ly);
  if (g.failed) return nullptr;
  if (ly < lx) return g.fail("geluTanh: output too small"), nullptr;
  gelu_tanh(x, y, lx);
  return undef(env);
}
napi_value GeluTanhGrad(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, ld, lo;
  float* x = g.f32(0, &lx);
  float* dy = g.f32(1, &ld);
  float* dx = g.f32(2, &lo);
  if (g.failed) return nullptr;
  if (ld < lx || lo < lx) return g.fail("geluTanhGrad: buffer too small"), nullptr;
  gelu_tanh_grad(x, dy, dx, lx);
  return undef(env);
}
// layerNorm(x, w, b|null, y, rows, n, eps)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, lw, lb = 0, ly;
  float* x = g.f32(0, &lx);
  float* w = g.f32(1, &lw);
  float* b = g.isNull(2) ? nullptr : g.f32(2, &lb);
  float* y = g.f32(3, &ly);
  int64_t rows = g.i64(4), n = g.i64(5);
  double eps = g.f64(6);
  if (g.failed) return nullptr;
  if (rows < 0 || n < 0 || lx < rows * n || ly < rows * n || lw < n || (b && lb < n))
    return g.fail("layerNorm: bad sizes"), nullptr;
  layer_norm(x, w, b, y, rows, n, float(eps));
  return undef(env);
}
// layerNormGrad(x, w, dy, dx|null, dw|null, db|null, rows, n, eps)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  Args g(env, info);
  int64_t lx, lw, ld, ldx = 0, ldw = 0, ldb = 0;
  float* x = g.f32(0, &lx);
  float* w = g.f32(1, &lw);
  float* dy = g.f32(2, &ld);
  float* dx = g.isNull(3) ? nullptr : g.f32(3, &ldx);
  float* dw = g.isNull(4) ? nullptr : g.f32(4, &ldw);
  float* db = g.isNull(5) ? nullptr : g.f32(5, &ldb);
  int64_t rows = g.i64(6), n = g.i64(7);
  double eps = g.f64(8);
  if (g.failed) return nullptr;
  if (rows < 0 || n < 0 || lx < rows * n || ld < rows * n || lw < n || (dx && ldx < rows * n) || (dw && ldw < n) ||
      (db && ldb < n))
    return g.fail("layerNormGrad: bad sizes"), nullptr;
  layer_norm_grad(x, w, dy, dx, dw, db, rows, n, float(eps));
  return undef(env);
}

napi_value Init(napi_env env, napi_value exports) {
  struct {
    const char* name;
    napi_callback cb;
  } fns[] = {{"info", Info},         {"setThreads", SetThreads}, {"gemm", Gemm}, {"setBlasThreading", SetBlasThreading},
             {"unary", Unary},       {"binary", Binary},         {"reduce", Reduce},
             {"softmax", Softmax},   {"gather", Gather},         {"segmentSum", SegmentSum},
             {"transpose", Transpose}, {"slice", Slice},         {"concat", Concat},
             {"copy", Copy},         {"geluTanh", GeluTanh},     {"geluTanhGrad", GeluTanhGrad},
             {"layerNorm", LayerNorm}, {"layerNormGrad", LayerNormGrad}, {"misalignment", Misalignment}, {"adamw", AdamW}, {"rope", Rope}};
  for (auto& f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
