// Forward pass, FlashAttention-2 structure: a block owns kBlockM query rows (16 per warp),
// streams key/value tiles through shared memory (double-buffered cp.async), keeps the
// running max and sum of each row (online softmax) and never writes scores to global memory.
#include <cmath>
#include <type_traits>
#include "attention_common.cuh"
#include "device_info.h"
#include "forward_tile.cuh"
#include "kernel_heuristics.h"
#include "kernel_traits.cuh"
#include "launch.h"
#include "launch_short.h"
#include "launch_wgmma.h"
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

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const QueryBlock<BM, BN> block(p, warp, g);
  const int row0 = block.row0, bh = block.bh, tileBegin = block.tileBegin, tileEnd = block.tileEnd;
  const float *q = block.q, *k = block.k, *v = block.v;
  const bool qkVector = p.headDim % 4 == 0, vVector = p.valueDim % 4 == 0;
  const float scaleLog2 = p.scale * kLog2e;
  const BiasRows biases(p, block.b, block.h);

  OnlineSoftmax<kScoreTiles, kOutTiles> softmax;
  float o[kOutTiles][4];

  auto loadKeys = [&](int tile, int stage) {
    loadTile<BN, HD, Traits::kThreads>(ks + stage * BN * LD, LD, k, p.seqK, p.headDim, tile * BN, qkVector);
  };
  auto loadValues = [&](int tile, int stage) {
    loadTile<BN, HD, Traits::kThreads>(vs + stage * BN * LD, LD, v, p.seqK, p.valueDim, tile * BN, vVector);
  };

  // The block's key tiles, into softmax and o. kChecked: with docs/contract.md §7's slow path on
  // every tile (forward_tile.cuh), for a block whose outputs came out non-finite without it.
  auto attend = [&](auto checked) {
    constexpr bool kChecked = decltype(checked)::value;
    softmax = OnlineSoftmax<kScoreTiles, kOutTiles>{};
    zero(o);
    if (tileBegin < tileEnd) {
      loadTile<BM, HD, Traits::kThreads>(qs, LD, q, p.seqQ, p.headDim, row0, qkVector);
      loadKeys(tileBegin, 0);
      loadValues(tileBegin, 0);
      commitAsync();
    }
    for (int tile = tileBegin; tile < tileEnd; ++tile) {
      const int stage = (tile - tileBegin) & 1;
      uint64_t nonFiniteKeys = 0;
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
        if constexpr (kChecked)
          nonFiniteKeys = takeNonFiniteValues<BN, HD, Traits::kThreads>(
              vts, [](int key, int d) { return d * LDT + pairedPosition(key); });
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
        if constexpr (kChecked)
          nonFiniteKeys = takeNonFiniteValues<BN, HD, Traits::kThreads>(vs + stage * BN * LD,
                                                                        [](int key, int d) { return key * LD + d; });
      }

      const int key0 = tile * BN;
      const bool fullTile = block.fullTile(key0);
      // Bias loads go out before the product so that their latency hides behind it.
      float bias[kScoreTiles][4];
      if constexpr (kHasBias) {
#pragma unroll
        for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e / 2, j = key0 + n * 8 + 2 * t + (e & 1);
            const bool visible = fullTile || (j >= block.range[r].begin && j < block.range[r].end);
            // Rows past the end read the last row's biases (never used): addresses stay valid.
            bias[n][e] = visible ? biases.at(min(block.rows[r], p.seqQ - 1), j) * kLog2e : 0.f;
          }
      }

      float s[1][kScoreTiles][4];
      zero(s);
      warpGemm<Mma, 1, kScoreTiles, HD, Traits::kGemmUnroll>(
          s, TileRowMajor<Mma>{qs, LD}, TileColMajor<Mma>{ks + stage * BN * LD, LD}, warp * 16, 0, g, t);

      float correction[2];
      softmax.template step<kHasBias>(s[0], correction, bias, p, scaleLog2, key0, fullTile, block.range,
                                      block.dropState, t);
      if (kChecked && nonFiniteKeys) poisonReaders(s[0], softmax.rowSum, nonFiniteKeys, t);
      softmax.rescale(o, correction);

      if constexpr (kTransposeV) {
        attentionOutputMma<Mma>(o, s, PairedTransposed{vts, LDT}, g, t);
      } else {
        attentionOutputMma<Mma>(o, s, RowMajor{vs + stage * BN * LD, LD}, g, t);
        __syncthreads();
      }
    }
  };
  attend(std::false_type{});
  // A non-finite value reaches every row's products (forward_tile.cuh): finite outputs are
  // the witness that none was there. The barrier also frees the tiles for the second pass.
  if (__syncthreads_or(outputWitness(o) != 0.f)) attend(std::true_type{});

  storeOutputRows(p, bh, block.rows, softmax.rowMax, softmax.rowSum, o, t);
}

template <class Traits, class Mma, bool kHasBias>
cudaError_t launch(const AttentionParams& p, cudaStream_t stream) {
  constexpr auto kernel = forwardKernel<Traits, Mma, kHasBias>;
  const cudaError_t allowed = allowSharedMemory<kernel>(Traits::kSmemBytes);
  if (allowed != cudaSuccess) return allowed;
  // Batch × heads on x, which allows 2^31 - 1 blocks.
  const dim3 grid(p.batch * p.headsQ, (p.seqQ + Traits::kBlockM - 1) / Traits::kBlockM);
  kernel<<<grid, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

template <class Mma>
cudaError_t launchForHeadDim(const AttentionParams& p, cudaStream_t stream) {
  const bool hasBias = p.bias != nullptr || p.windowBias != nullptr;
  switch (paddedHeadDim(p)) {
    case 32:
      return hasBias ? launch<ForwardConfig<32, true>::type, Mma, true>(p, stream)
                     : launch<ForwardConfig<32, false>::type, Mma, false>(p, stream);
    case 64:
      return hasBias ? launch<ForwardConfig<64, true>::type, Mma, true>(p, stream)
                     : launch<ForwardConfig<64, false>::type, Mma, false>(p, stream);
    default:
      return hasBias ? launch<ForwardConfig<128, true>::type, Mma, true>(p, stream)
                     : launch<ForwardConfig<128, false>::type, Mma, false>(p, stream);
  }
}

}  // namespace

cudaError_t launchForward(const AttentionParams& p, Precision precision, Scratch& scratch, cudaStream_t stream) {
  if (int64_t(p.batch) * p.headsQ * p.seqQ == 0) return cudaSuccess;
  if (shortForwardFits(p)) return launchShortForward(p, precision, stream);
  if (wgmmaForwardFits(p, precision)) {
    bool available = false;
    const cudaError_t error = wgmmaForwardAvailable(&available);
    if (error != cudaSuccess) return error;
    if (available) return launchWgmmaForward(p, scratch, stream);
  }
  switch (precision) {
    case Precision::Highest: return launchForHeadDim<SplitTf32Mma>(p, stream);
    case Precision::BF16: return launchForHeadDim<Bf16Mma>(p, stream);
    default: return launchForHeadDim<Tf32Mma>(p, stream);
  }
}

}  // namespace attention
