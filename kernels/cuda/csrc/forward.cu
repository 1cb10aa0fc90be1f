// Forward pass, FlashAttention-2 structure: a block owns kBlockM query rows (16 per warp),
// streams key/value tiles through shared memory (double-buffered cp.async), keeps the
// running max and sum of each row (online softmax) and never writes scores to global memory.
#include <cmath>
#include "attention_common.cuh"
#include "kernel_traits.cuh"
#include "launch.h"
#include "launch_short.h"
#include "mma.cuh"

namespace attention {
namespace {

// Raw V [key][dim] (row stride ld) → vt [dim][pairedPosition(key)] (row stride ldT), rounded to
// TF32. A warp's lanes take consecutive keys of one 4-dim chunk: its reads and writes fall on
// distinct banks.
template <int kKeys, int kDim, int kThreads>
__device__ __forceinline__ void transposeValuesToTf32(float* vt, int ldT, const float* v, int ld) {
  static_assert(kKeys % 32 == 0 && kKeys * kDim / 4 % kThreads == 0, "whole warps per chunk column");
#pragma unroll
  for (int c = threadIdx.x; c < kKeys * kDim / 4; c += kThreads) {
    const int key = c % kKeys, d = c / kKeys * 4;
    const float4 x = *reinterpret_cast<const float4*>(v + key * ld + d);
    float* out = vt + d * ldT + pairedPosition(key);
    out[0] = __uint_as_float(toTf32(x.x));
    out[ldT] = __uint_as_float(toTf32(x.y));
    out[2 * ldT] = __uint_as_float(toTf32(x.z));
    out[3 * ldT] = __uint_as_float(toTf32(x.w));
  }
}

// kHasBias: a bias or window bias is present; without, no registers go to bias values.
template <class Traits, class Mma, bool kHasBias>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks) forwardKernel(const AttentionParams p) {
  constexpr int BM = Traits::kBlockM, BN = Traits::kBlockN, HD = Traits::kHeadDim, LD = Traits::kLd;
  constexpr int kScoreTiles = BN / 8, kOutTiles = HD / 8;
  // TF32 (the policy that rounds tiles) reads V transposed, through ldmatrix: one raw V stage,
  // the next tile's copies issued once the current one is transposed. Others read V in place
  // from two stages.
  constexpr bool kTransposeV = Mma::kRoundsTiles;
  constexpr int LDT = Traits::kLdTransposed;
  extern __shared__ float smem[];
  float* qs = smem;
  float* ks = qs + BM * LD;
  float* vs = ks + 2 * BN * LD;
  float* vts = vs + BN * LD;

  // Later query blocks see more keys under causal masks: start them first.
  const int row0 = (gridDim.y - 1 - blockIdx.y) * BM;
  const int bh = blockIdx.x, b = bh / p.headsQ, h = bh % p.headsQ, hk = h / p.group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;

  const float* q = p.q + int64_t(bh) * p.seqQ * p.headDim;
  const float* k = p.k + (int64_t(b) * p.headsKV + hk) * p.seqK * p.headDim;
  const float* v = p.v + (int64_t(b) * p.headsKV + hk) * p.seqK * p.valueDim;
  const bool qkVector = p.headDim % 4 == 0, vVector = p.valueDim % 4 == 0;

  const int lastRow = min(row0 + BM, p.seqQ) - 1;
  const KeyRange firstRange = keyRange(p, row0), lastRange = keyRange(p, lastRow);
  const int tileBegin = firstRange.begin / BN;
  const int tileEnd = (lastRange.end + BN - 1) / BN;
  const float scaleLog2 = p.scale * kLog2e;

  int rows[2];
  KeyRange range[2];
  uint32_t dropState[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    rows[r] = row0 + warp * 16 + g + 8 * r;
    range[r] = rows[r] < p.seqQ ? keyRange(p, rows[r]) : KeyRange{0, 0};
    dropState[r] = p.dropout ? dropoutRowState(p, bh, rows[r]) : 0u;
  }
  const BiasRows biases(p, b, h);

  float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
  float o[kOutTiles][4];
#pragma unroll
  for (int n = 0; n < kOutTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[n][e] = 0.f;

  auto loadKeys = [&](int tile, int stage) {
    loadTile<BN, HD, Traits::kThreads>(ks + stage * BN * LD, LD, k, p.seqK, p.headDim, tile * BN, qkVector);
  };
  auto loadValues = [&](int tile, int stage) {
    loadTile<BN, HD, Traits::kThreads>(vs + stage * BN * LD, LD, v, p.seqK, p.valueDim, tile * BN, vVector);
  };

  if (tileBegin < tileEnd) {
    loadTile<BM, HD, Traits::kThreads>(qs, LD, q, p.seqQ, p.headDim, row0, qkVector);
    loadKeys(tileBegin, 0);
    loadValues(tileBegin, 0);
    commitAsync();
  }
  for (int tile = tileBegin; tile < tileEnd; ++tile) {
    const int stage = (tile - tileBegin) & 1;
    if constexpr (kTransposeV) {
      waitAsync<0>();
      if (tile == tileBegin) roundOwnChunks<BM, HD, Traits::kThreads>(qs, LD, qkVector);
      roundOwnChunks<BN, HD, Traits::kThreads>(ks + stage * BN * LD, LD, qkVector);
      // The tile's copies are visible, and every warp is done with the previous tile.
      __syncthreads();
      transposeValuesToTf32<BN, HD, Traits::kThreads>(vts, LDT, vs, LD);
      __syncthreads();
      if (tile + 1 < tileEnd) {
        loadKeys(tile + 1, stage ^ 1);
        loadValues(tile + 1, 0);
        commitAsync();
      }
    } else {
      if (tile + 1 < tileEnd) {
        loadKeys(tile + 1, stage ^ 1);
        loadValues(tile + 1, stage ^ 1);
        commitAsync();
        waitAsync<1>();
      } else {
        waitAsync<0>();
      }
      __syncthreads();
    }

    // Tiles inside every row's range (most, without masks) skip the per-element mask.
    const int key0 = tile * BN;
    const bool fullTile = tileFullyVisible(firstRange, lastRange, key0, BN);
    // Bias loads go out before the product so that their latency hides behind it.
    float bias[kScoreTiles][4];
    if constexpr (kHasBias) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, j = key0 + n * 8 + 2 * t + (e & 1);
          const bool visible = fullTile || (j >= range[r].begin && j < range[r].end);
          // Rows past the end read the last row's biases (never used): addresses stay valid.
          bias[n][e] = visible ? biases.at(min(rows[r], p.seqQ - 1), j) * kLog2e : 0.f;
        }
    }

    float s[1][kScoreTiles][4];
    zero(s);
    warpGemm<Mma, 1, kScoreTiles, HD, Traits::kGemmUnroll>(
        s, TileRowMajor<Mma>{qs, LD}, TileColMajor<Mma>{ks + stage * BN * LD, LD}, warp * 16, 0, g, t);

    // Scores in log2 units; masked entries -inf. Masks and dropout run as loops of their own
    // under uniform branches, so that tiles without them spend no instructions on them.
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[0][n][e] *= scaleLog2;
        if constexpr (kHasBias) s[0][n][e] += bias[n][e];
      }
    if (!fullTile) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, j = key0 + n * 8 + 2 * t + (e & 1);
          if (!(j >= range[r].begin && j < range[r].end)) s[0][n][e] = -INFINITY;
        }
    }
    float tileMax[2] = {rowMax[0], rowMax[1]};
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) tileMax[e / 2] = fmaxf(tileMax[e / 2], s[0][n][e]);
    float base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffffu, tileMax[r], 1));
      tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(0xffffffffu, tileMax[r], 2));
      // A row with nothing visible yet keeps base 0 so that exp2(-inf - base) = 0, never NaN.
      base[r] = tileMax[r] == -INFINITY ? 0.f : tileMax[r];
      const float correction = fastExp2(rowMax[r] - base[r]);
      rowMax[r] = tileMax[r];
      rowSum[r] *= correction;
#pragma unroll
      for (int n = 0; n < kOutTiles; ++n) {
        o[n][2 * r] *= correction;
        o[n][2 * r + 1] *= correction;
      }
    }
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[0][n][e] = fastExp2(s[0][n][e] - base[e / 2]);
        rowSum[e / 2] += s[0][n][e];
      }
    // Dropped entries count in the sum but leave the product; the 1 / (1 - rate) of kept ones
    // is applied at the end in fp32, not to tensor-core operands.
    if (p.dropout) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (!dropoutKeeps(p, dropState[e / 2], key0 + n * 8 + 2 * t + (e & 1))) s[0][n][e] = 0.f;
    }

    if constexpr (kTransposeV) {
      attentionOutputMma<Mma>(o, s, PairedTransposed{vts, LDT}, g, t);
    } else {
      attentionOutputMma<Mma>(o, s, RowMajor{vs + stage * BN * LD, LD}, g, t);
      __syncthreads();
    }
  }

  storeOutputRows(p, bh, rows, rowMax, rowSum, o, t);
}

template <class Traits, class Mma, bool kHasBias>
cudaError_t launch(const AttentionParams& p, cudaStream_t stream) {
  auto kernel = forwardKernel<Traits, Mma, kHasBias>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Traits::kSmemBytes);
  if (attr != cudaSuccess) return attr;
  // Batch × heads on x, which allows 2^31 - 1 blocks.
  const dim3 grid(p.batch * p.headsQ, (p.seqQ + Traits::kBlockM - 1) / Traits::kBlockM);
  kernel<<<grid, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

template <class Mma>
cudaError_t launchForHeadDim(const AttentionParams& p, cudaStream_t stream) {
  const int dim = max(p.headDim, p.valueDim);
  const bool hasBias = p.bias != nullptr || p.windowBias != nullptr;
  if (dim <= 32) {
    return hasBias ? launch<ForwardConfig<32, true>::type, Mma, true>(p, stream)
                   : launch<ForwardConfig<32, false>::type, Mma, false>(p, stream);
  }
  if (dim <= 64) {
    return hasBias ? launch<ForwardConfig<64, true>::type, Mma, true>(p, stream)
                   : launch<ForwardConfig<64, false>::type, Mma, false>(p, stream);
  }
  return hasBias ? launch<ForwardConfig<128, true>::type, Mma, true>(p, stream)
                 : launch<ForwardConfig<128, false>::type, Mma, false>(p, stream);
}

}  // namespace

cudaError_t launchForward(const AttentionParams& p, Precision precision, cudaStream_t stream) {
  if (int64_t(p.batch) * p.headsQ * p.seqQ == 0) return cudaSuccess;
  if (shortForwardFits(p)) return launchShortForward(p, precision, stream);
  switch (precision) {
    case Precision::Highest: return launchForHeadDim<SplitTf32Mma>(p, stream);
    case Precision::BF16: return launchForHeadDim<Bf16Mma>(p, stream);
    default: return launchForHeadDim<Tf32Mma>(p, stream);
  }
}

}  // namespace attention
