// Forward pass for short sequences (Sq, Sk <= 64, head dims <= 64), e.g. Swin's 49-token
// windows. With one 64-key tile per window there is no online softmax; what costs time is
// latency (a window is 25 KB of Q, K, V and O), so a persistent block walks windows in
// turn and prefetches the next window's Q, K, V (cp.async, second stage) while it computes
// the current one. Output rows go through shared memory for coalesced 16-byte stores.
#include <algorithm>
#include <cmath>
#include "attention_common.cuh"
#include "kernel_traits.cuh"
#include "launch_short.h"
#include "mma.cuh"

namespace attention {
namespace {

template <class Traits, class Mma, bool kHasBias>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks) shortForwardKernel(const AttentionParams p) {
  constexpr int N = Traits::kMaxSeq, HD = Traits::kHeadDim, LD = Traits::kLd;
  constexpr int kScoreTiles = N / 8, kOutTiles = HD / 8;
  extern __shared__ float smem[];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int windows = p.batch * p.headsQ;
  const bool qkVector = p.headDim % 4 == 0, vVector = p.valueDim % 4 == 0;
  const float scaleLog2 = p.scale * kLog2e;
  // Warps past the last query row only help with loads.
  const bool hasRows = warp * 16 < p.seqQ;

  // Key ranges depend on the row alone (causal, block-diagonal), not on the window.
  int rows[2];
  KeyRange range[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    rows[r] = warp * 16 + g + 8 * r;
    range[r] = rows[r] < p.seqQ ? keyRange(p, rows[r]) : KeyRange{0, 0};
  }

  auto loadWindow = [&](int bh, float* stage) {
    const int b = bh / p.headsQ, hk = (bh % p.headsQ) / p.group;
    const int64_t kv = int64_t(b) * p.headsKV + hk;
    loadTile<N, HD, Traits::kThreads>(stage, LD, p.q + int64_t(bh) * p.seqQ * p.headDim, p.seqQ, p.headDim, 0, qkVector);
    loadTile<N, HD, Traits::kThreads>(stage + N * LD, LD, p.k + kv * p.seqK * p.headDim, p.seqK, p.headDim, 0, qkVector);
    loadTile<N, HD, Traits::kThreads>(stage + 2 * N * LD, LD, p.v + kv * p.seqK * p.valueDim, p.seqK, p.valueDim, 0,
                                      vVector);
    commitAsync();
  };

  if (blockIdx.x < windows) loadWindow(blockIdx.x, smem);
  for (int bh = blockIdx.x, step = 0; bh < windows; bh += gridDim.x, ++step) {
    float* qs = smem + (step & 1) * Traits::kStageFloats;
    float* ks = qs + N * LD;
    float* vs = ks + N * LD;
    // The other stage was released by the barrier that ended the previous window.
    if (bh + gridDim.x < windows) {
      loadWindow(bh + gridDim.x, smem + ((step + 1) & 1) * Traits::kStageFloats);
      waitAsync<1>();
    } else {
      waitAsync<0>();
    }
    __syncthreads();
    if constexpr (Mma::kRoundsTiles) {
      roundTileToTf32<Traits::kThreads>(qs, Traits::kStageFloats);
      __syncthreads();
    }

    if (hasRows) {
      const int b = bh / p.headsQ, h = bh % p.headsQ;
      const BiasRows biases(p, b, h);
      // Bias loads go out before the product so that their latency hides behind it.
      float bias[kScoreTiles][4];
      if constexpr (kHasBias) {
#pragma unroll
        for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e / 2, j = n * 8 + 2 * t + (e & 1);
            // Rows past the end read the last row's biases (never used): addresses stay valid.
            bias[n][e] = j >= range[r].begin && j < range[r].end ? biases.at(min(rows[r], p.seqQ - 1), j) * kLog2e : 0.f;
          }
      }

      float s[1][kScoreTiles][4];
      zero(s);
      warpGemm<Mma, 1, kScoreTiles, HD>(s, TileRowMajor<Mma>{qs, LD}, TileColMajor<Mma>{ks, LD}, warp * 16, 0, g, t);

      // Scores in log2 units, masked entries (and keys past Sk) -inf; all keys are here, so
      // the row maximum is final.
      float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, j = n * 8 + 2 * t + (e & 1);
          float x = s[0][n][e] * scaleLog2;
          if constexpr (kHasBias) x += bias[n][e];
          if (!(j >= range[r].begin && j < range[r].end)) x = -INFINITY;
          s[0][n][e] = x;
          rowMax[r] = fmaxf(rowMax[r], x);
        }
      uint32_t dropState[2];
      float base[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        rowMax[r] = fmaxf(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 1));
        rowMax[r] = fmaxf(rowMax[r], __shfl_xor_sync(0xffffffffu, rowMax[r], 2));
        // A row with nothing visible keeps base 0 so that exp2(-inf - base) = 0, never NaN.
        base[r] = rowMax[r] == -INFINITY ? 0.f : rowMax[r];
        dropState[r] = p.dropout ? dropoutRowState(p, bh, rows[r]) : 0u;
      }
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2;
          float prob = fastExp2(s[0][n][e] - base[r]);
          rowSum[r] += prob;
          // Dropped entries leave the sum; 1 / (1 - rate) is applied at the end in fp32.
          if (p.dropout && !dropoutKeeps(p, dropState[r], n * 8 + 2 * t + (e & 1))) prob = 0.f;
          s[0][n][e] = prob;
        }

      float o[kOutTiles][4];
#pragma unroll
      for (int n = 0; n < kOutTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[n][e] = 0.f;
      attentionOutputMma<Mma>(o, s, TileRowMajor<Mma>{vs, LD}, g, t);

      // This warp's Q rows are read only by this warp: they take its output rows.
      __syncwarp();
      float* staged = qs + warp * 16 * LD;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        rowSum[r] += __shfl_xor_sync(0xffffffffu, rowSum[r], 1);
        rowSum[r] += __shfl_xor_sync(0xffffffffu, rowSum[r], 2);
        const bool empty = rowSum[r] == 0.f;
        const float inverse = empty ? 0.f : p.dropoutScale / rowSum[r];
#pragma unroll
        for (int n = 0; n < kOutTiles; ++n)
          *reinterpret_cast<float2*>(staged + (g + 8 * r) * LD + n * 8 + 2 * t) =
              make_float2(o[n][2 * r] * inverse, o[n][2 * r + 1] * inverse);
        if (t == 0 && rows[r] < p.seqQ)
          p.lse[int64_t(bh) * p.seqQ + rows[r]] = empty ? INFINITY : rowMax[r] * kLn2 + logf(rowSum[r]);
      }
      __syncwarp();
      // The warp's rows are contiguous in the output.
      const int count = min(16, p.seqQ - warp * 16);
      float* out = p.out + (int64_t(bh) * p.seqQ + warp * 16) * p.valueDim;
      if (vVector) {
        const int chunksPerRow = p.valueDim / 4;
        for (int c = lane; c < count * chunksPerRow; c += 32) {
          const int r = c / chunksPerRow, col = (c % chunksPerRow) * 4;
          *reinterpret_cast<float4*>(out + r * p.valueDim + col) = *reinterpret_cast<const float4*>(staged + r * LD + col);
        }
      } else {
        for (int c = lane; c < count * p.valueDim; c += 32) {
          const int r = c / p.valueDim, col = c % p.valueDim;
          out[r * p.valueDim + col] = staged[r * LD + col];
        }
      }
    }
    __syncthreads();
  }
}

template <class Traits, class Mma, bool kHasBias>
cudaError_t launch(const AttentionParams& p, cudaStream_t stream) {
  auto kernel = shortForwardKernel<Traits, Mma, kHasBias>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Traits::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  // One resident wave of blocks; each walks windows blockIdx.x, + gridDim.x, ...
  int device = 0, multiprocessors = 0, perMultiprocessor = 0;
  cudaError_t status = cudaGetDevice(&device);
  if (status == cudaSuccess) status = cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  if (status == cudaSuccess)
    status = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perMultiprocessor, kernel, Traits::kThreads,
                                                           Traits::kSmemBytes);
  if (status != cudaSuccess) return status;
  const int64_t windows = int64_t(p.batch) * p.headsQ;
  const int blocks = int(std::min<int64_t>(windows, int64_t(multiprocessors) * std::max(1, perMultiprocessor)));
  kernel<<<blocks, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

template <class Mma>
cudaError_t launchForHeadDim(const AttentionParams& p, cudaStream_t stream) {
  const bool hasBias = p.bias != nullptr || p.windowBias != nullptr;
  if (std::max(p.headDim, p.valueDim) <= 32) {
    return hasBias ? launch<ShortForwardConfig<32>::type, Mma, true>(p, stream)
                   : launch<ShortForwardConfig<32>::type, Mma, false>(p, stream);
  }
  return hasBias ? launch<ShortForwardConfig<64>::type, Mma, true>(p, stream)
                 : launch<ShortForwardConfig<64>::type, Mma, false>(p, stream);
}

}  // namespace

cudaError_t launchShortForward(const AttentionParams& p, Precision precision, cudaStream_t stream) {
  switch (precision) {
    case Precision::Highest: return launchForHeadDim<SplitTf32Mma>(p, stream);
    case Precision::BF16: return launchForHeadDim<Bf16Mma>(p, stream);
    default: return launchForHeadDim<Tf32Mma>(p, stream);
  }
}

}  // namespace attention
