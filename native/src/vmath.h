// vmath.h — branch-free float32 transcendental functions that auto-vectorise.
//
// Purpose: exp / tanh / erf / sigmoid written as straight-line selects so
// GCC/Clang vectorise loops that call them (glibc's expf/tanhf are scalar
// calls). Accuracy: exp within ~2 ulp (Cephes polynomial, two-step scaling
// so the full float range incl. denormals works); tanh within a few ulp
// relative; erf is the Abramowitz–Stegun 7.1.26 formula that tfjs' cpu and
// wasm backends use (|error| < 1.5e-7 absolute).
// Non-goals: bit-exact agreement with libm; long double.
#pragma once
#include <cstdint>
#include <cstring>

namespace llmdbg {

static inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}

static inline float vexp(float x) {
  const bool nan = x != x;
  float xc = x < -104.0f ? -104.0f : (x > 88.72283935546875f ? 88.72283935546875f : x);
  xc = nan ? 0.0f : xc;
  // n = round(xc / ln2) via the 1.5*2^23 trick (exact for |v| < 2^22).
  float t = xc * 1.44269504088896341f + 12582912.0f;
  t -= 12582912.0f;
  float r = xc - t * 0.693359375f;
  r = r - t * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t n = int32_t(t);
  int32_t n1 = n >> 1;  // split the scale so 2^n never over/underflows early
  int32_t n2 = n - n1;
  float s1 = bits_to_float((n1 + 127) << 23);
  float s2 = bits_to_float((n2 + 127) << 23);
  float res = p * s1 * s2;
  res = x < -104.0f ? 0.0f : res;
  res = x > 88.72283935546875f ? __builtin_inff() : res;
  return nan ? x : res;
}

// tanh: odd polynomial for |x| < 0.625 (Cephes tanhf), else 1 - 2/(e^{2|x|}+1).
static inline float vtanh(float x) {
  float ax = x < 0 ? -x : x;
  float z = x * x;
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                  1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  float e = vexp(2.0f * (ax > 10.0f ? 10.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = ax > 9.0f ? 1.0f : big;
  big = x < 0 ? -big : big;
  return ax < 0.625f ? small : big;  // NaN: comparison false -> big -> NaN
}

static inline float vsigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }

static inline float verf(float x) {
  const float p = 0.3275911f, a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f,
              a4 = -1.453152027f, a5 = 1.061405429f;
  float v = x < 0 ? -x : x;
  float t = 1.0f / (1.0f + p * v);
  float y = 1.0f - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * vexp(-v * v);
  return x < 0 ? -y : (x > 0 ? y : (x == 0 ? 0.0f * x : x));  // keeps NaN, and 0 -> 0
}

}  // namespace llmdbg
