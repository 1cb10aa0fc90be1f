// Per-element pieces shared by the forward and backward kernels: which keys a query row may
// see (causal and block-diagonal masks, from the sequence starts), the additive biases read
// through broadcast strides, the contract's dropout hash, and asynchronous tile loads.
#pragma once
#include <cstdint>
#include "attention_params.h"

namespace attention {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

struct KeyRange {
  int begin, end;  // keys [begin, end) may be unmasked for this query row
};

// The block of a packed row: the last block whose query start is <= row.
__device__ __forceinline__ int blockOfRow(const AttentionParams& p, int row) {
  int lo = 0, hi = p.numBlocks - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (__ldg(p.qStarts + mid) <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// Both ends are non-decreasing in row, which lets a tile find its range by binary search.
__device__ __forceinline__ KeyRange keyRange(const AttentionParams& p, int row) {
  int q0 = 0, q1 = p.seqQ, k0 = 0, k1 = p.seqK;
  if (p.numBlocks > 0) {
    const int blk = blockOfRow(p, row);
    q0 = __ldg(p.qStarts + blk);
    q1 = __ldg(p.qStarts + blk + 1);
    k0 = __ldg(p.kStarts + blk);
    k1 = __ldg(p.kStarts + blk + 1);
  }
  if (p.causal == 0) return {k0, k1};
  const int diagonal = p.causal == 2 ? (k1 - k0) - (q1 - q0) : 0;
  return {k0, max(k0, min(k1, k0 + (row - q0) + diagonal + 1))};
}

// First row in [0, seqQ) whose range ends after key `key` (keyRange(row).end > key).
__device__ __forceinline__ int firstRowEndingAfter(const AttentionParams& p, int key) {
  int lo = 0, hi = p.seqQ;
  while (lo < hi) {
    const int mid = (lo + hi) >> 1;
    if (keyRange(p, mid).end > key) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// First row in [0, seqQ) whose range starts at or after `key`.
__device__ __forceinline__ int firstRowStartingAt(const AttentionParams& p, int key) {
  int lo = 0, hi = p.seqQ;
  while (lo < hi) {
    const int mid = (lo + hi) >> 1;
    if (keyRange(p, mid).begin >= key) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// Offsets of the biases for one (batch, head): row i, key j add i * stride[2] + j * stride[3].
struct BiasRows {
  const float* bias;
  const float* window;
  int64_t biasRow, biasCol, windowRow, windowCol;

  __device__ __forceinline__ BiasRows(const AttentionParams& p, int b, int h) {
    bias = p.bias ? p.bias + b * p.biasStride[0] + h * p.biasStride[1] : nullptr;
    window = p.windowBias ? p.windowBias + (b % p.numWindows) * p.windowStride[0] + h * p.windowStride[1] : nullptr;
    biasRow = p.biasStride[2];
    biasCol = p.biasStride[3];
    windowRow = p.windowStride[2];
    windowCol = p.windowStride[3];
  }
  __device__ __forceinline__ bool any() const { return bias != nullptr || window != nullptr; }
  __device__ __forceinline__ float at(int i, int j) const {
    float s = 0.f;
    if (bias) s += __ldg(bias + i * biasRow + j * biasCol);
    if (window) s += __ldg(window + i * windowRow + j * windowCol);
    return s;
  }
};

// A term that is NaN exactly where one of x's elements is ±Infinity or NaN (x · 0), added to
// w: kernels sum it over values as they pass, or over the outputs made from them, one product
// per element, to learn whether docs/contract.md §7's slow path is needed (forward_tile.cuh).
__device__ __forceinline__ float addValueWitness(float w, float4 x) {
  return fmaf(x.w, 0.f, fmaf(x.z, 0.f, fmaf(x.y, 0.f, fmaf(x.x, 0.f, w))));
}

// Whether every query row in [firstRow, lastRow] sees every key in [key0, key0 + count):
// then a tile needs no per-element mask. Uses that range ends grow with the row.
__device__ __forceinline__ bool tileFullyVisible(const KeyRange& first, const KeyRange& last, int key0, int count) {
  return last.begin <= key0 && key0 + count <= first.end;
}

// docs/contract.md §5.
__device__ __forceinline__ uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
__device__ __forceinline__ uint32_t dropoutRowState(const AttentionParams& p, int batchHead, int row) {
  return mix32(mix32(mix32(p.dropoutSeed) ^ uint32_t(batchHead)) ^ uint32_t(row));
}
__device__ __forceinline__ bool dropoutKeeps(const AttentionParams& p, uint32_t rowState, int col) {
  return mix32(rowState ^ uint32_t(col)) >= p.dropoutThreshold;
}

// cp.async of `bytes` (4 or 16) with zero fill past `valid` bytes.
template <int kBytes>
__device__ __forceinline__ void copyAsync(float* smem, const float* gmem, int validBytes) {
  const uint32_t dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  if constexpr (kBytes == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(validBytes));
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(gmem), "r"(validBytes));
  }
}
__device__ __forceinline__ void commitAsync() { asm volatile("cp.async.commit_group;\n" ::); }
template <int kPending>
__device__ __forceinline__ void waitAsync() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
}

// How loadTile spreads a [kRows, kCols] tile over kThreads threads in 16-byte chunks: a thread
// takes column chunk threadIdx.x % kChunksPerRow of rows row() + i · kRowsPerPass, i < kPasses
// (compile-time counts: unrolled, one address step per pass).
template <int kRows, int kCols, int kThreads>
struct TileChunks {
  static constexpr int kChunksPerRow = kCols / 4;
  static constexpr int kRowsPerPass = kThreads / kChunksPerRow;
  static constexpr int kPasses = kRows / kRowsPerPass;
  static_assert(kCols % 4 == 0 && kThreads % kChunksPerRow == 0 && kRows % kRowsPerPass == 0, "whole passes");
  static __device__ __forceinline__ int row() { return threadIdx.x / kChunksPerRow; }
  static __device__ __forceinline__ int col() { return threadIdx.x % kChunksPerRow * 4; }
};

// Loads rows [row0, row0 + kRows) × columns [0, kCols) of a [rows, cols] matrix into shared
// memory with leading dimension ld, zeros outside. 16-byte copies when cols allows (TileChunks),
// else 4-byte copies of element threadIdx.x + i · kThreads.
template <int kRows, int kCols, int kThreads>
__device__ __forceinline__ void loadTile(float* smem, int ld, const float* gmem, int rows, int cols, int row0,
                                         bool vectorized) {
  if (vectorized) {
    using Chunks = TileChunks<kRows, kCols, kThreads>;
    const int r = row0 + Chunks::row(), col = Chunks::col();
    const float* src = gmem + int64_t(r) * cols + col;
    float* dst = smem + Chunks::row() * ld + col;
    const int64_t srcStep = int64_t(Chunks::kRowsPerPass) * cols;
#pragma unroll
    for (int i = 0; i < Chunks::kPasses; ++i) {
      const bool inside = r + i * Chunks::kRowsPerPass < rows && col < cols;
      copyAsync<16>(dst + i * Chunks::kRowsPerPass * ld, inside ? src + i * srcStep : gmem, inside ? 16 : 0);
    }
  } else {
    constexpr int kElems = kRows * kCols;
    for (int c = threadIdx.x; c < kElems; c += kThreads) {
      const int r = c / kCols, col = c % kCols;
      const int gr = row0 + r;
      const bool inside = gr < rows && col < cols;
      const float* src = inside ? gmem + int64_t(gr) * cols + col : gmem;
      copyAsync<4>(smem + r * ld + col, src, inside ? 4 : 0);
    }
  }
}

// The forward kernels' epilogue for a lane's two query rows: the row sums completed across the
// lane quad, the output normalized (with the dropout scale) and written in float2 pairs where
// the value dim allows (four lanes cover a row's 8 columns of a tile: one 32-byte sector), and
// the logsumexp. Fully masked rows (sum 0) get zeros and +inf. rowMax is in log2 units.
template <int kOutTiles>
__device__ __forceinline__ void storeOutputRows(const AttentionParams& p, int bh, const int (&rows)[2],
                                                const float (&rowMax)[2], float (&rowSum)[2],
                                                const float (&o)[kOutTiles][4], int t) {
  const bool pairs = p.valueDim % 2 == 0;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    rowSum[r] += __shfl_xor_sync(0xffffffffu, rowSum[r], 1);
    rowSum[r] += __shfl_xor_sync(0xffffffffu, rowSum[r], 2);
    const int i = rows[r];
    if (i >= p.seqQ) continue;
    const bool empty = rowSum[r] == 0.f;
    const float inverse = empty ? 0.f : p.dropoutScale / rowSum[r];
    float* out = p.out + (int64_t(bh) * p.seqQ + i) * p.valueDim;
#pragma unroll
    for (int n = 0; n < kOutTiles; ++n) {
      const int col = n * 8 + 2 * t;
      if (pairs && col < p.valueDim) {
        *reinterpret_cast<float2*>(out + col) = make_float2(o[n][2 * r] * inverse, o[n][2 * r + 1] * inverse);
      } else {
        if (col < p.valueDim) out[col] = o[n][2 * r] * inverse;
        if (col + 1 < p.valueDim) out[col + 1] = o[n][2 * r + 1] * inverse;
      }
    }
    if (t == 0) p.lse[int64_t(bh) * p.seqQ + i] = empty ? INFINITY : rowMax[r] * kLn2 + logf(rowSum[r]);
  }
}

}  // namespace attention
