// movement.cc — data movement kernels: GatherV2, UnsortedSegmentSum,
// Transpose, Slice, Concat and a parallel copy (also the bandwidth benchmark).
//
// Purpose: 4-byte element moves (float32 and int32 share the code). Transpose
// and Slice merge dimensions first and then copy contiguous runs with
// memcpy, or strided elements when the innermost output dim is strided.
// Determinism: UnsortedSegmentSum splits work by columns only; each output
// element accumulates its rows in index order on one thread.
// Non-goals: gather with batchDims > 0 (cpu fallback).
// LIMITATION: transposes that move the innermost axis copy element by element
// (strided reads, no cache blocking); fine for activations, slow for huge
// weight matrices.
#include <cstring>
#include <vector>

#include "common.h"

namespace llmdbg {

int64_t gather(const uint32_t* x, const int32_t* idx, uint32_t* out, int64_t outer, int64_t dim,
               int64_t inner, int64_t nIdx) {
  for (int64_t i = 0; i < nIdx; ++i)
    if (idx[i] < 0 || idx[i] >= dim) return i;
  const int64_t rows = outer * nIdx;
  int64_t grain = inner > 0 ? ((1 << 18) + inner - 1) / inner : rows;
  parallel_for(rows, grain, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const int64_t o = r / nIdx, i = r % nIdx;
      std::memcpy(out + r * inner, x + (o * dim + idx[i]) * inner, size_t(inner) * 4);
    }
  });
  return -1;
}

void segment_sum(const float* x, const int32_t* ids, float* out, int64_t rows, int64_t inner,
                 int64_t numSeg) {
  parallel_for(inner, rows > 0 ? ((1 << 17) + rows - 1) / rows : inner, [&](int64_t b, int64_t e) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t s = ids[r];
      if (s < 0 || s >= numSeg) continue;
      const float* src = x + r * inner;
      float* dst = out + s * inner;
      for (int64_t j = b; j < e; ++j) dst[j] += src[j];
    }
  });
}

// Copies out[i0..] (row-major over oshape) from x at strides st, 4-byte elems.
static void strided_copy(const uint32_t* x, uint32_t* out, const std::vector<int64_t>& oshape,
                         const std::vector<int64_t>& st) {
  const int nd = int(oshape.size());
  int64_t total = 1;
  for (int64_t d : oshape) total *= d;
  if (total == 0) return;
  if (nd == 0) {
    out[0] = x[0];
    return;
  }
  const int64_t n0 = oshape[nd - 1], s0 = st[nd - 1];
  parallel_for(total, 1 << 17, [&](int64_t s, int64_t e) {
    int64_t row = s / n0, col = s % n0;
    std::vector<int64_t> idx(size_t(nd), 0);
    int64_t off = 0;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = row % oshape[d];
      row /= oshape[d];
      off += idx[d] * st[d];
    }
    int64_t pos = s;
    while (pos < e) {
      int64_t len = n0 - col;
      if (len > e - pos) len = e - pos;
      const uint32_t* src = x + off + col * s0;
      uint32_t* dst = out + pos;
      if (s0 == 1) {
        std::memcpy(dst, src, size_t(len) * 4);
      } else {
        for (int64_t j = 0; j < len; ++j) dst[j] = src[j * s0];
      }
      pos += len;
      col = 0;
      for (int d = nd - 2; d >= 0; --d) {
        off += st[d];
        if (++idx[d] < oshape[d]) break;
        off -= st[d] * oshape[d];
        idx[d] = 0;
      }
    }
  });
}

void transpose(const uint32_t* x, uint32_t* out, const int64_t* shape, const int64_t* perm, int rank) {
  // Input strides, then drop size-1 dims and merge dims that stay adjacent.
  std::vector<int64_t> istr(size_t(rank), 1);
  for (int d = rank - 2; d >= 0; --d) istr[d] = istr[d + 1] * shape[d + 1];
  std::vector<int64_t> os, st;
  int prevIn = -2;
  for (int k = 0; k < rank; ++k) {
    const int i = int(perm[k]);
    if (shape[i] == 1) continue;
    if (i == prevIn + 1 && !os.empty()) {
      os.back() *= shape[i];
      st.back() = istr[i];
    } else {
      os.push_back(shape[i]);
      st.push_back(istr[i]);
    }
    prevIn = i;
  }
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= shape[d];
  if (total == 0) return;
  strided_copy(x, out, os, st);
}

void slice(const uint32_t* x, uint32_t* out, const int64_t* shape, const int64_t* begin, const int64_t* size,
           int rank) {
  std::vector<int64_t> istr(size_t(rank), 1);
  for (int d = rank - 2; d >= 0; --d) istr[d] = istr[d + 1] * shape[d + 1];
  int64_t base = 0;
  for (int d = 0; d < rank; ++d) base += begin[d] * istr[d];
  // Merge trailing dims that are taken whole into the previous one.
  std::vector<int64_t> os, st;
  for (int d = 0; d < rank; ++d) {
    if (size[d] == 1) continue;
    if (!os.empty() && st.back() == istr[d] * shape[d] && size[d] == shape[d] &&
        os.back() * size[d] > 0) {
      os.back() *= size[d];
      st.back() = istr[d];
    } else {
      os.push_back(size[d]);
      st.push_back(istr[d]);
    }
  }
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= size[d];
  if (total == 0) return;
  strided_copy(x + base, out, os, st);
}

void concat(const uint32_t* const* xs, const int64_t* inner, int n, uint32_t* out, int64_t outer) {
  int64_t row = 0;
  for (int i = 0; i < n; ++i) row += inner[i];
  if (row == 0) return;
  parallel_for(outer, (262144 + row - 1) / row, [&](int64_t s, int64_t e) {
    for (int64_t o = s; o < e; ++o) {
      uint32_t* dst = out + o * row;
      for (int i = 0; i < n; ++i) {
        std::memcpy(dst, xs[i] + o * inner[i], size_t(inner[i]) * 4);
        dst += inner[i];
      }
    }
  });
}

void copy(const void* src, void* dst, int64_t bytes) {
  parallel_for(bytes, 1 << 20, [&](int64_t s, int64_t e) {
    std::memcpy(static_cast<char*>(dst) + s, static_cast<const char*>(src) + s, size_t(e - s));
  });
}

}  // namespace llmdbg
