// Forward pass on Hopper's warpgroup products (wgmma, sm_90a) for the default TF32 precision
// without a dense bias (masks, GQA, Dv != D and dropout as in forward.cu). The structure is
// forward.cu's: a block owns 64 query rows per warpgroup and streams 64-key tiles
// through shared memory. Each warpgroup computes S = Q Kᵀ with both operands in shared memory
// and O += P V with P straight from the score registers (as a TF32 head and tail, for the
// reason given at attentionOutputMma) and V transposed in shared memory: TF32 products read
// both operands K-major, so V is the one tile that needs a transpose.
#include <cmath>
#include "attention_common.cuh"
#include "forward_tile.cuh"
#include "kernel_traits.cuh"
#include "launch_wgmma.h"
#include "mma.cuh"
#include "wgmma.cuh"

namespace attention {
namespace {

// Which code the device runs: sm_90a machine code holds the wgmma kernel; other targets, and
// PTX compiled for the device at load time, do not.
__device__ int wgmmaCompiled =
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    1;
#else
    0;
#endif

// Copies rows [row0, row0 + kRows) × columns [0, kCols) of a [rows, cols] matrix into a tile in
// the core-matrix layout (wgmma.cuh), zeros outside. In that layout 16-byte chunk
// c = ((row / 8) · kCols / 4 + col / 4) · 8 + row % 8 sits at float 4c: a warp's copies fill
// 512 consecutive bytes (free of bank conflicts) from 8 rows of global memory.
// 4-byte copies of element e at float e where cols is not a multiple of 4.
template <int kRows, int kCols>
struct CoreTileChunks {
  static __device__ __forceinline__ int row(int chunk) { return chunk / (2 * kCols) * 8 + chunk % 8; }
  static __device__ __forceinline__ int col(int chunk) { return chunk / 8 % (kCols / 4) * 4; }
};

template <int kRows, int kCols, int kThreads>
__device__ __forceinline__ void loadCoreTile(float* smem, const float* gmem, int rows, int cols, int row0,
                                             bool vectorized) {
  using Chunks = CoreTileChunks<kRows, kCols>;
  if (vectorized) {
    constexpr int kChunks = kRows * kCols / 4;
    static_assert(kChunks % kThreads == 0, "whole passes");
#pragma unroll
    for (int i = 0; i < kChunks / kThreads; ++i) {
      const int c = threadIdx.x + i * kThreads, r = row0 + Chunks::row(c), col = Chunks::col(c);
      const bool inside = r < rows && col < cols;
      copyAsync<16>(smem + 4 * c, inside ? gmem + int64_t(r) * cols + col : gmem, inside ? 16 : 0);
    }
  } else {
    for (int e = threadIdx.x; e < kRows * kCols; e += kThreads) {
      const int r = row0 + Chunks::row(e / 4), col = Chunks::col(e / 4) + e % 4;
      const bool inside = r < rows && col < cols;
      copyAsync<4>(smem + e, inside ? gmem + int64_t(r) * cols + col : gmem, inside ? 4 : 0);
    }
  }
}

// Rounds to TF32 what loadCoreTile gave this thread: visible to it once its copies are waited for.
template <int kRows, int kCols, int kThreads>
__device__ __forceinline__ void roundCoreTile(float* smem, bool vectorized) {
  if (vectorized) {
#pragma unroll
    for (int i = 0; i < kRows * kCols / 4 / kThreads; ++i) {
      float4* x = reinterpret_cast<float4*>(smem) + threadIdx.x + i * kThreads;
      float4 v = *x;
      v.x = __uint_as_float(toTf32(v.x));
      v.y = __uint_as_float(toTf32(v.y));
      v.z = __uint_as_float(toTf32(v.z));
      v.w = __uint_as_float(toTf32(v.w));
      *x = v;
    }
  } else {
    for (int e = threadIdx.x; e < kRows * kCols; e += kThreads) smem[e] = __uint_as_float(toTf32(smem[e]));
  }
}

// Raw V [key][dim] (row stride kLd) → vt, the core-matrix layout of [dim][key position] with
// the keys in the order P's registers hold them (position p holds key pairedIndex(p), mma.cuh),
// rounded to TF32. A warp fills one core matrix at a time, lane = 8 · (p % 4) + dim % 8: its
// stores hit 32 distinct banks, and so do its reads (keys 2 apart, rows kLd ≡ 4 floats mod 32).
template <int kKeys, int kDim, int kLd, int kThreads>
__device__ __forceinline__ void transposeValuesToCores(float* vt, const float* v) {
  constexpr int kCores = kKeys / 4 * kDim / 8, kWarps = kThreads / 32;
  static_assert(kLd % 32 == 4, "conflict-free reads");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int core = warp; core < kCores; core += kWarps) {
    const int dim = core % (kDim / 8) * 8 + lane % 8, position = core / (kDim / 8) * 4 + lane / 8;
    vt[coreOffset<kKeys>(dim, position)] = __uint_as_float(toTf32(v[pairedIndex(position) * kLd + dim]));
  }
}

template <class Traits>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks) wgmmaForwardKernel(const AttentionParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int BM = Traits::kBlockM, BN = Traits::kBlockN, HD = Traits::kHeadDim, LDV = Traits::kLdValues;
  constexpr int kThreads = Traits::kThreads, kScoreTiles = BN / 8, kOutTiles = HD / 8;
  extern __shared__ __align__(128) float smem[];
  float* qs = smem;               // [BM][HD], core matrices
  float* ks = qs + BM * HD;       // two stages of [BN][HD], core matrices
  float* vts = ks + 2 * BN * HD;  // two stages of [HD][BN] in paired key order, core matrices
  float* vs = vts + 2 * HD * BN;  // [BN][LDV], raw

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const QueryBlock<BM, BN> block(p, warp, g);
  const bool qkVector = p.headDim % 4 == 0, vVector = p.valueDim % 4 == 0;
  const float scaleLog2 = p.scale * kLog2e;

  OnlineSoftmax<kScoreTiles, kOutTiles> softmax;
  float o[kOutTiles][4];
#pragma unroll
  for (int n = 0; n < kOutTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[n][e] = 0.f;
  // This warpgroup's 64 query rows.
  const uint64_t qDescriptor = coreTileDescriptor<HD>(qs + warp / 4 * 64 * HD);

  // The first 256 threads copy and round the tiles (whole passes for any warpgroup count).
  constexpr int kLoaders = kThreads < 256 ? kThreads : 256;
  const bool loader = threadIdx.x < kLoaders;
  auto loadKeysAndValues = [&](int tile, float* keys) {
    if (loader) {
      loadCoreTile<BN, HD, kLoaders>(keys, block.k, p.seqK, p.headDim, tile * BN, qkVector);
      loadTile<BN, HD, kLoaders>(vs, LDV, block.v, p.seqK, p.valueDim, tile * BN, vVector);
    }
    commitAsync();
  };
  // O += P V for the probabilities in head and tail, V transposed in `values`; output columns
  // in groups of 64.
  Tf32Mma::A head[kScoreTiles], tail[kScoreTiles];
  auto issueOutputProducts = [&](const float* values) {
#pragma unroll
    for (int step = 0; step < kScoreTiles; ++step) {
#pragma unroll
      for (int half = 0; half < HD / 64; ++half) {
        const uint64_t v = advanceK(coreTileDescriptor<BN>(values + half * 64 * BN), step);
        if (half == 0) {
          wgmmaRegisters64<0>(o, tail[step].x, v);
          wgmmaRegisters64<0>(o, head[step].x, v);
        } else {
          wgmmaRegisters64<8 * (HD / 64 - 1)>(o, tail[step].x, v);
          wgmmaRegisters64<8 * (HD / 64 - 1)>(o, head[step].x, v);
        }
      }
    }
  };

  if (block.tileBegin < block.tileEnd) {
    if (loader) loadCoreTile<BM, HD, kLoaders>(qs, block.q, p.seqQ, p.headDim, block.row0, qkVector);
    loadKeysAndValues(block.tileBegin, ks);
  }
  // Software-pipelined by one tile: while the softmax of tile j runs on the CUDA cores, the
  // tensor cores compute tile j - 1's P·V.
  for (int tile = block.tileBegin; tile < block.tileEnd; ++tile) {
    const int stage = (tile - block.tileBegin) & 1;
    float* keys = ks + stage * BN * HD;
    float* values = vts + stage * HD * BN;
    waitAsync<0>();
    if (loader) {
      if (tile == block.tileBegin) roundCoreTile<BM, HD, kLoaders>(qs, qkVector);
      roundCoreTile<BN, HD, kLoaders>(keys, qkVector);
    }
    // The tile's copies are visible, and every warpgroup is done with this stage's V (the
    // products of two tiles back).
    __syncthreads();
    transposeValuesToCores<BN, HD, LDV, kThreads>(values, vs);
    // The rounded Q and K and the transposed V are read by the tensor cores next.
    fenceAsyncProxy();
    __syncthreads();
    if (tile + 1 < block.tileEnd) loadKeysAndValues(tile + 1, ks + (stage ^ 1) * BN * HD);

    float s[kScoreTiles][4];
    const uint64_t kDescriptor = coreTileDescriptor<HD>(keys);
    wgmmaFence();
#pragma unroll
    for (int step = 0; step < HD / 8; ++step)
      wgmmaShared64<0>(s, advanceK(qDescriptor, step), advanceK(kDescriptor, step), step == 0);
    wgmmaCommit();
    // The previous tile's P·V (an empty group on the first tile).
    if (tile > block.tileBegin) issueOutputProducts(vts + (stage ^ 1) * HD * BN);
    wgmmaCommit();
    wgmmaWait<1>();
    pinAccumulators(s);

    const int key0 = tile * BN;
    const float noBias[kScoreTiles][4] = {};
    float correction[2];
    softmax.template step<false>(s, correction, noBias, p, scaleLog2, key0, block.fullTile(key0), block.range,
                                 block.dropState, t);
    wgmmaWait<0>();
    pinAccumulators(o);
    softmax.rescale(o, correction);
#pragma unroll
    for (int step = 0; step < kScoreTiles; ++step) Tf32Mma::splitAccToA(s, step, head[step], tail[step]);
  }
  if (block.tileBegin < block.tileEnd) {
    wgmmaFence();
    issueOutputProducts(vts + ((block.tileEnd - 1 - block.tileBegin) & 1) * HD * BN);
    wgmmaCommit();
    wgmmaWait<0>();
    pinAccumulators(o);
  }
  storeOutputRows(p, block.bh, block.rows, softmax.rowMax, softmax.rowSum, o, t);
#endif
}

template <class Traits>
cudaError_t launch(const AttentionParams& p, cudaStream_t stream) {
  auto kernel = wgmmaForwardKernel<Traits>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Traits::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  const dim3 grid(p.batch * p.headsQ, (p.seqQ + Traits::kBlockM - 1) / Traits::kBlockM);
  kernel<<<grid, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t wgmmaForwardAvailable(bool* available) {
  // The addon works on one device; read once.
  static int compiled = -1;
  if (compiled < 0) {
    int flag = 0;
    const cudaError_t error = cudaMemcpyFromSymbol(&flag, wgmmaCompiled, sizeof flag);
    if (error != cudaSuccess) return error;
    compiled = flag;
  }
  *available = compiled == 1;
  return cudaSuccess;
}

cudaError_t launchWgmmaForward(const AttentionParams& p, cudaStream_t stream) {
  return max(p.headDim, p.valueDim) <= 64 ? launch<WgmmaForwardConfig<64>::type>(p, stream)
                                          : launch<WgmmaForwardConfig<128>::type>(p, stream);
}

}  // namespace attention
