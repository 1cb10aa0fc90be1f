// Forward pass for short sequences (Sq, Sk <= 64, head dims <= 64), e.g. Swin's 49-token
// windows. With one 64-key tile per window there is no online softmax; what costs time is
// latency (a window is 25 KB of Q, K, V and O), so a persistent block walks windows in
// turn and prefetches the next window's Q, K, V (cp.async, second stage) while it computes
// the current one. Where consecutive windows share their bias (Swin's relative bias and
// window mask), a block walks runs of them and sums the bias once per run.
#include <algorithm>
#include <cmath>
#include "attention_common.cuh"
#include "device_info.h"
#include "forward_tile.cuh"
#include "kernel_heuristics.h"
#include "kernel_traits.cuh"
#include "launch_short.h"
#include "mma.cuh"

namespace attention {
namespace {

// This thread's cells of a window's summed bias, cells[k · kCellStep] for k < kRows: the sum of
// kSources sources' rows k · step where k < validRows, else 0, in log2 units. Each batch's loads
// go out before any is used; offsets are 32-bit (a window's bias spans at most 64 × 64 elements).
struct BiasSource {
  const float* p;
  int step;
};
template <int kRows, int kCellStep, int kSources>
__device__ __forceinline__ void gatherBiasRows(float* cells, const BiasSource (&sources)[2], int validRows) {
  constexpr int kBatch = 8;
  static_assert(kRows % kBatch == 0, "whole batches");
#pragma unroll
  for (int k0 = 0; k0 < kRows; k0 += kBatch) {
    float x[kSources][kBatch];
#pragma unroll
    for (int k = 0; k < kBatch; ++k)
#pragma unroll
      for (int i = 0; i < kSources; ++i)
        x[i][k] = k0 + k < validRows ? __ldg(sources[i].p + (k0 + k) * sources[i].step) : 0.f;
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      float sum = x[0][k];
      if constexpr (kSources == 2) sum += x[1][k];
      cells[(k0 + k) * kCellStep] = sum * kLog2e;
    }
  }
}

// The windows a block takes. With kRuns, a run of consecutive windows in an order by head,
// then by window index b mod nW, then by image, so that consecutive windows share their bias
// where it is broadcast over images (Swin's relative bias and window mask; B is a multiple of
// nW, docs/contract.md); else windows blockIdx.x, + gridDim.x, ... in (batch, head) order.
template <bool kRuns>
struct WindowWalk {
  int w, end, stride;
  __device__ __forceinline__ explicit WindowWalk(const AttentionParams& p) {
    const int windows = p.batch * p.headsQ;
    if constexpr (kRuns) {
      const int perBlock = (windows + gridDim.x - 1) / gridDim.x;
      w = blockIdx.x * perBlock;
      end = min(w + perBlock, windows);
      stride = 1;
    } else {
      w = blockIdx.x;
      end = windows;
      stride = gridDim.x;
    }
  }
  __device__ __forceinline__ bool hasNext() const { return w + stride < end; }
  // The (batch, head) of this window (ahead = 0) or the next (ahead = 1).
  __device__ __forceinline__ int window(const AttentionParams& p, int ahead) const {
    const int i = w + ahead * stride;
    if constexpr (!kRuns) return i;
    const unsigned batch = p.batch, images = batch / unsigned(p.numWindows);
    const unsigned h = unsigned(i) / batch, r = unsigned(i) - h * batch;
    const unsigned c = r / images, image = r - c * images;
    return int((image * unsigned(p.numWindows) + c) * unsigned(p.headsQ) + h);
  }
};

// Fills a window's summed bias [query][key] (kBiasLd apart) from its sources, read with
// coalesced loads (each element once) instead of per-fragment loads that touch every sector
// four times over. Thread (i0, j) takes rows i0, i0 + kRowStep, ... of key j.
template <class Traits>
__device__ __forceinline__ void stageBias(float* smem, const AttentionParams& p, const BiasRows& biases) {
  constexpr int N = Traits::kMaxSeq, kRowStep = Traits::kThreads / N;
  const int j = threadIdx.x % N, i0 = threadIdx.x / N;
  const int validRows = j < p.seqK ? (p.seqQ - i0 + kRowStep - 1) / kRowStep : 0;
  const BiasSource bias =
      biases.bias ? BiasSource{biases.bias + i0 * biases.biasRow + j * biases.biasCol, int(kRowStep * biases.biasRow)}
                  : BiasSource{};
  const BiasSource window = biases.window ? BiasSource{biases.window + i0 * biases.windowRow + j * biases.windowCol,
                                                       int(kRowStep * biases.windowRow)}
                                          : BiasSource{};
  float* cells = smem + i0 * Traits::kBiasLd + j;
  constexpr int kRows = N / kRowStep, kCellStep = kRowStep * Traits::kBiasLd;
  if (biases.bias && biases.window) {
    const BiasSource both[2] = {bias, window};
    gatherBiasRows<kRows, kCellStep, 2>(cells, both, validRows);
  } else {
    // One source, in a two-entry array as above: an array sized by the source count built
    // to slower code (0.102 -> 0.110 ms at Swin stage 1, NOTES.md version 11).
    const BiasSource one[2] = {biases.bias ? bias : window, {}};
    gatherBiasRows<kRows, kCellStep, 1>(cells, one, validRows);
  }
}

template <class Traits, class Mma, bool kHasBias>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks) shortForwardKernel(const AttentionParams p) {
  constexpr int N = Traits::kMaxSeq, HD = Traits::kHeadDim, LD = Traits::kLd;
  constexpr int kScoreTiles = N / 8, kOutTiles = HD / 8;
  constexpr bool kHeldBias = kHasBias && Traits::kHeldBias;
  extern __shared__ float smem[];
  // With a held bias, the summed bias of the last window stays after the two stages until a
  // window with other bias sources comes; else each window's goes where its Q and K were.
  float* heldBias = smem + 2 * Traits::kStageFloats;
  const float* heldSources[2] = {nullptr, nullptr};

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const bool qkVector = p.headDim % 4 == 0, vVector = p.valueDim % 4 == 0;
  const float scaleLog2 = p.scale * kLog2e;

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
    loadTile<N, HD, Traits::kThreads>(stage, LD, p.q + int64_t(bh) * p.seqQ * p.headDim, p.seqQ, p.headDim, 0,
                                      qkVector);
    loadTile<N, HD, Traits::kThreads>(stage + N * LD, LD, p.k + kv * p.seqK * p.headDim, p.seqK, p.headDim, 0,
                                      qkVector);
    loadTile<N, HD, Traits::kThreads>(stage + 2 * N * LD, LD, p.v + kv * p.seqK * p.valueDim, p.seqK, p.valueDim, 0,
                                      vVector);
    commitAsync();
  };

  WindowWalk<kHeldBias> walk(p);
  if (walk.w < walk.end) loadWindow(walk.window(p, 0), smem);
  for (int step = 0; walk.w < walk.end; walk.w += walk.stride, ++step) {
    const int bh = walk.window(p, 0);
    float* qs = smem + (step & 1) * Traits::kStageFloats;
    float* ks = qs + N * LD;
    float* vs = ks + N * LD;
    // The other stage was released by the barrier that ended the previous window.
    if (walk.hasNext()) {
      loadWindow(walk.window(p, 1), smem + ((step + 1) & 1) * Traits::kStageFloats);
      waitAsync<1>();
    } else {
      waitAsync<0>();
    }
    // Each thread rounds the chunks it copied (visible to it after the wait): one barrier.
    if constexpr (Mma::kRoundsTiles) {
      roundOwnChunks<N, HD, Traits::kThreads>(qs, LD, qkVector);
      roundOwnChunks<N, HD, Traits::kThreads>(ks, LD, qkVector);
      roundOwnChunks<N, HD, Traits::kThreads>(vs, LD, vVector);
    }
    // The held bias was last read before the barrier that ended the previous window.
    if constexpr (kHeldBias) {
      const BiasRows biases(p, bh / p.headsQ, bh % p.headsQ);
      if (biases.bias != heldSources[0] || biases.window != heldSources[1]) {
        stageBias<Traits>(heldBias, p, biases);
        heldSources[0] = biases.bias;
        heldSources[1] = biases.window;
      }
    }
    __syncthreads();

    // Warps past the last query row (Sq <= 48) compute rows that are never stored: no branch
    // around the products, whose accumulators would otherwise be moved between registers.
    float s[1][kScoreTiles][4];
    zero(s);
    warpGemm<Mma, 1, kScoreTiles, HD, Traits::kGemmUnroll>(s, TileRowMajor<Mma>{qs, LD}, TileColMajor<Mma>{ks, LD},
                                                           warp * 16, 0, g, t);
    if constexpr (kHasBias && !kHeldBias) {
      // Q and K are spent: their space takes the window's summed bias.
      __syncthreads();
      stageBias<Traits>(qs, p, BiasRows(p, bh / p.headsQ, bh % p.headsQ));
      __syncthreads();
    }
    const float* biasCells = kHeldBias ? heldBias : qs;

    // Scores in log2 units, masked entries (and keys past Sk) -inf; all keys are here, so
    // the row maximum is final.
    float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float2 bias = make_float2(0.f, 0.f);
        if constexpr (kHasBias)
          bias =
              *reinterpret_cast<const float2*>(biasCells + (warp * 16 + g + 8 * r) * Traits::kBiasLd + n * 8 + 2 * t);
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int e = 2 * r + c, j = n * 8 + 2 * t + c;
          const float b = c == 0 ? bias.x : bias.y;
          float x = s[0][n][e] * scaleLog2 + b;
          // A -Infinity bias entry masks its key: selected, since a NaN score plus it is NaN (§7).
          if (!(j >= range[r].begin && j < range[r].end) || b == -INFINITY) x = -INFINITY;
          s[0][n][e] = x;
          rowMax[r] = fmaxf(rowMax[r], x);
        }
      }
    uint32_t dropState[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) dropState[r] = p.dropout ? dropoutRowState(p, bh, rows[r]) : 0u;
    float base[2];
    completeRowMaxima(rowMax, base);
    exponentiateScores(s[0], base, rowSum, p, dropState, 0, t);

    float o[kOutTiles][4];
    zero(o);
    attentionOutputMma<Mma>(o, s, TileRowMajor<Mma>{vs, LD}, g, t);
    // A non-finite value reaches every row's products (forward_tile.cuh), so the outputs are
    // its witness: a warp that sees one computes them again without it, and only then knows
    // which rows read it.
    if (__any_sync(0xffffffffu, outputWitness(o) != 0.f)) {
      const uint64_t keys = nonFiniteValueKeys<N, HD>(vs, [](int key, int d) { return key * LD + d; });
      if (keys) {
        WarpTiles<kScoreTiles, kOutTiles> probabilities;
#pragma unroll
        for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) probabilities.x[n][e] = s[0][n][e];
        const auto outputs = finiteWarpOutputs<kScoreTiles, kOutTiles>(probabilities, vs, LD);
#pragma unroll
        for (int n = 0; n < kOutTiles; ++n)
#pragma unroll
          for (int e = 0; e < 4; ++e) o[n][e] = outputs.x[n][e];
        poisonReaders(s[0], rowSum, keys, t);
      }
    }

    storeOutputRows(p, bh, rows, rowMax, rowSum, o, t);
    __syncthreads();
  }
}

template <class Traits, class Mma, bool kHasBias>
cudaError_t launch(const AttentionParams& p, cudaStream_t stream) {
  constexpr auto kernel = shortForwardKernel<Traits, Mma, kHasBias>;
  cudaError_t status = allowSharedMemory<kernel>(Traits::kSmemBytes);
  if (status != cudaSuccess) return status;
  // One resident wave of blocks, each walking as many windows as the busiest (no block without
  // windows).
  int multiprocessors = 0, perMultiprocessor = 0;
  status = multiprocessorCount(&multiprocessors);
  if (status == cudaSuccess)
    status =
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perMultiprocessor, kernel, Traits::kThreads, Traits::kSmemBytes);
  if (status != cudaSuccess) return status;
  const int64_t windows = int64_t(p.batch) * p.headsQ;
  const int64_t resident = std::min<int64_t>(windows, int64_t(multiprocessors) * std::max(1, perMultiprocessor));
  const int64_t perBlock = (windows + resident - 1) / resident;
  const int blocks = int((windows + perBlock - 1) / perBlock);
  kernel<<<blocks, Traits::kThreads, Traits::kSmemBytes, stream>>>(p);
  return cudaGetLastError();
}

template <class Mma>
cudaError_t launchForHeadDim(const AttentionParams& p, cudaStream_t stream) {
  const bool hasBias = p.bias != nullptr || p.windowBias != nullptr;
  if (paddedHeadDim(p) == 32) {
    if (!hasBias) return launch<ShortForwardConfig<32>::type, Mma, false>(p, stream);
    using Held = ShortForwardConfig<32, true>::type;
    int multiprocessors = 0;
    const cudaError_t status = multiprocessorCount(&multiprocessors);
    if (status != cudaSuccess) return status;
    return holdsBias(p, multiprocessors, Held::kMinBlocks) ? launch<Held, Mma, true>(p, stream)
                                                           : launch<ShortForwardConfig<32>::type, Mma, true>(p, stream);
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
