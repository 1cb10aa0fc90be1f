// Forward pass on Hopper's warpgroup products (wgmma, sm_90a) for the default TF32 precision
// without a dense bias (masks, GQA, Dv != D and dropout as in forward.cu), in FlashAttention-3's
// structure. A pre-pass writes K and V once as 64-key tiles in the core-matrix layout of
// wgmma.cuh, rounded to TF32, V transposed to [dim][key] (TF32 products read both operands
// K-major). The forward block is a producer warpgroup, one lane of which streams those tiles
// into rings of shared-memory stages with bulk copies on mbarriers, and consumer warpgroups of
// 64 query rows that never wait for one another: each computes S = Q Kᵀ with both operands in
// shared memory and O += P V with P straight from the score registers (a TF32 head and tail,
// for the reason given at attentionOutputMma), tile j - 1's P·V in flight under tile j's softmax.
#include <cmath>
#include "attention_common.cuh"
#include "device_info.h"
#include "forward_tile.cuh"
#include "kernel_heuristics.h"
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

constexpr int kTileKeys = 64;

// The core-matrix layout (wgmma.cuh) of a [kRows][kCols] tile, read in 16-byte chunks: chunk
// c = ((row / 8) · kCols / 4 + col / 4) · 8 + row % 8 sits at float 4c, so consecutive chunks
// are consecutive in shared memory, and a warp's 32 chunks cover 8 rows of 64 bytes.
template <int kCols>
struct CoreChunks {
  static __device__ __forceinline__ int row(int chunk) { return chunk / (2 * kCols) * 8 + chunk % 8; }
  static __device__ __forceinline__ int col(int chunk) { return chunk / 8 % (kCols / 4) * 4; }
};

// prepareTilesKernel's slow path for a value tile that holds ±Infinity or NaN (docs/contract.md
// §7; forward_tile.cuh, takeNonFiniteValues): those values zeroed in the written tile (element e
// holds key pairedIndex(CoreChunks<64>::col(e / 4) + e % 4)), their keys stored as bits in *keys.
// The whole block calls it.
template <int HD>
__device__ __noinline__ void takeNonFiniteTileValues(float* tile, uint64_t* keys) {
  __shared__ unsigned long long found;
  if (threadIdx.x == 0) found = 0;
  __syncthreads();
  for (int e = threadIdx.x; e < kTileKeys * HD; e += blockDim.x) {
    if (isfinite(tile[e])) continue;
    tile[e] = 0.f;
    atomicOr(&found, 1ull << pairedIndex(CoreChunks<kTileKeys>::col(e / 4) + e % 4));
  }
  __syncthreads();
  if (threadIdx.x == 0) *keys = found;
}

// K [B·Hkv][Sk][D] → key tiles [B·Hkv][tiles][64 × HD] and V [B·Hkv][Sk][Dv] → value tiles
// [B·Hkv][tiles][HD × 64] (position p of a tile holds key pairedIndex(p): the order in which P's
// registers hold them, mma.cuh), rounded to TF32, zeros past Sk, D and Dv. Block (tile, batch·head);
// each thread reads all of its chunks before it writes any. Non-finite values are written as 0 and
// their keys (bit key - key0) to the tile's entry of nonFiniteKeys (forward_tile.cuh,
// takeNonFiniteValues).
template <int HD>
__global__ void __launch_bounds__(256)
    prepareTilesKernel(const AttentionParams p, float* __restrict__ keyTiles, float* __restrict__ valueTiles,
                       uint64_t* __restrict__ nonFiniteKeys) {
  constexpr int kPasses = kTileKeys * HD / 4 / 256;
  const int tile = blockIdx.x, bh = blockIdx.y, key0 = tile * kTileKeys;
  const float* __restrict__ k = p.k + int64_t(bh) * p.seqK * p.headDim;
  const float* __restrict__ v = p.v + int64_t(bh) * p.seqK * p.valueDim;
  const int64_t offset = (int64_t(bh) * gridDim.x + tile) * kTileKeys * HD;
  const bool kVector = p.headDim % 4 == 0;
  float4 keys[kPasses], values[kPasses];
#pragma unroll
  for (int pass = 0; pass < kPasses; ++pass) {
    const int c = threadIdx.x + pass * 256;
    const int key = key0 + CoreChunks<HD>::row(c), col = CoreChunks<HD>::col(c);
    float* x = &keys[pass].x;
    if (kVector) {
      keys[pass] = key < p.seqK && col < p.headDim
                       ? __ldg(reinterpret_cast<const float4*>(k + int64_t(key) * p.headDim + col))
                       : make_float4(0.f, 0.f, 0.f, 0.f);
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i)
        x[i] = key < p.seqK && col + i < p.headDim ? __ldg(k + int64_t(key) * p.headDim + col + i) : 0.f;
    }
    const int dim = CoreChunks<kTileKeys>::row(c), position = CoreChunks<kTileKeys>::col(c);
    float* y = &values[pass].x;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int j = key0 + pairedIndex(position + i);
      y[i] = j < p.seqK && dim < p.valueDim ? __ldg(v + int64_t(j) * p.valueDim + dim) : 0.f;
    }
  }
  auto rounded = [](float4 x) {
    return make_float4(Tf32Mma::roundOperand(x.x), Tf32Mma::roundOperand(x.y), Tf32Mma::roundOperand(x.z),
                       Tf32Mma::roundOperand(x.w));
  };
  float witness = 0.f;
#pragma unroll
  for (int pass = 0; pass < kPasses; ++pass) {
    const int c = threadIdx.x + pass * 256;
    reinterpret_cast<float4*>(keyTiles + offset)[c] = rounded(keys[pass]);
    reinterpret_cast<float4*>(valueTiles + offset)[c] = rounded(values[pass]);
    witness = addValueWitness(witness, values[pass]);
  }
  // The block's writes are visible to all of its threads after the barrier.
  if (__syncthreads_or(witness != 0.f)) {
    takeNonFiniteTileValues<HD>(valueTiles + offset, nonFiniteKeys + int64_t(bh) * gridDim.x + tile);
  } else if (threadIdx.x == 0) {
    nonFiniteKeys[int64_t(bh) * gridDim.x + tile] = 0;
  }
}

// Copies rows [row0, row0 + 64) × columns [0, kCols) of a [rows, cols] matrix into a tile in the
// core-matrix layout with the 128 threads of a warpgroup (thread = its index there) and rounds
// them to TF32; zeros outside. 4-byte copies where cols is not a multiple of 4.
template <int kCols>
__device__ __forceinline__ void loadRoundedRows(float* smem, const float* gmem, int rows, int cols, int row0,
                                                bool vectorized, int thread) {
  constexpr int kChunks = 64 * kCols / 4, kThreads = 128;
  if (vectorized) {
#pragma unroll
    for (int i = 0; i < kChunks / kThreads; ++i) {
      const int c = thread + i * kThreads, r = row0 + CoreChunks<kCols>::row(c), col = CoreChunks<kCols>::col(c);
      const bool inside = r < rows && col < cols;
      copyAsync<16>(smem + 4 * c, inside ? gmem + int64_t(r) * cols + col : gmem, inside ? 16 : 0);
    }
  } else {
    for (int e = thread; e < 4 * kChunks; e += kThreads) {
      const int r = row0 + CoreChunks<kCols>::row(e / 4), col = CoreChunks<kCols>::col(e / 4) + e % 4;
      const bool inside = r < rows && col < cols;
      copyAsync<4>(smem + e, inside ? gmem + int64_t(r) * cols + col : gmem, inside ? 4 : 0);
    }
  }
  commitAsync();
  waitAsync<0>();
  // Each thread rounds what it copied: visible to it once waited for.
  if (vectorized) {
#pragma unroll
    for (int i = 0; i < kChunks / kThreads; ++i) {
      float4* x = reinterpret_cast<float4*>(smem) + thread + i * kThreads;
      float4 v = *x;
      *x = make_float4(Tf32Mma::roundOperand(v.x), Tf32Mma::roundOperand(v.y), Tf32Mma::roundOperand(v.z),
                       Tf32Mma::roundOperand(v.w));
    }
  } else {
    for (int e = thread; e < 4 * kChunks; e += kThreads) smem[e] = Tf32Mma::roundOperand(smem[e]);
  }
}

// A ring of kStages stages in shared memory, each with a barrier that completes when its tiles
// have landed (full) and one that completes when every consumer warp is done with them (empty).
// A stage holds a tile of `tiles`, and one of `pairedTiles` too where that is set.
template <int kStages, int kTileFloats>
struct TileRing {
  float* tiles;
  float* pairedTiles;
  uint64_t* full;
  uint64_t* empty;
  __device__ __forceinline__ int stage(int i) const { return i % kStages; }
  __device__ __forceinline__ uint32_t parity(int i) const { return (i / kStages) & 1; }
  __device__ __forceinline__ void init(int consumerWarps) const {
    for (int stage = 0; stage < kStages; ++stage) {
      barrierInit(&full[stage], 1);
      barrierInit(&empty[stage], consumerWarps);
    }
  }
  // The producer's part: the block's i-th tile, `tile` of `source` (and of `pairedSource`), into
  // stage i % kStages once the tile kStages earlier has been released.
  __device__ __forceinline__ void load(const float* source, const float* pairedSource, int tile, int i) const {
    const int s = stage(i);
    if (i >= kStages) barrierWait(&empty[s], parity(i - kStages));
    const int64_t offset = int64_t(tile) * kTileFloats;
    barrierArriveExpect(&full[s], (pairedTiles ? 2 : 1) * kTileFloats * 4);
    bulkCopy(tiles + s * kTileFloats, source + offset, kTileFloats * 4, &full[s]);
    if (pairedTiles) bulkCopy(pairedTiles + s * kTileFloats, pairedSource + offset, kTileFloats * 4, &full[s]);
  }
};

template <class Traits>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    wgmmaForwardKernel(const AttentionParams p, const float* keyTiles, const float* valueTiles,
                       const uint64_t* nonFiniteKeys) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int BM = Traits::kBlockM, BN = kTileKeys, HD = Traits::kHeadDim;
  constexpr int kConsumers = Traits::kConsumers, kTileFloats = BN * HD;
  constexpr int kScoreTiles = BN / 8, kOutTiles = HD / 8;
  // Keys and values in rings of their own where stages are few (head dim 128): a key stage is
  // released once S = Q Kᵀ is done, a value stage once P·V is done, a tile later, so that the
  // next keys are copied under this tile's softmax. Where stages are plenty, values share the key
  // stages: a wait and a release fewer per tile on the consumers' path.
  constexpr bool kValuesApart = Traits::kValueStages > 0;
  constexpr int kKeyStages = Traits::kKeyStages, kValueStages = Traits::kValueRingStages;
  using KeyRing = TileRing<kKeyStages, kTileFloats>;
  using ValueRing = TileRing<kValueStages, kTileFloats>;
  extern __shared__ __align__(128) float smem[];
  // Q [BM][HD] in core matrices, the key and value stages, their barriers.
  float* qs = smem;
  float* ks = qs + BM * HD;
  float* vts = ks + kKeyStages * kTileFloats;
  uint64_t* barriers = reinterpret_cast<uint64_t*>(vts + kValueStages * kTileFloats);
  const KeyRing keyRing{ks, kValuesApart ? nullptr : vts, barriers, barriers + kKeyStages};
  const ValueRing valueRing =
      kValuesApart ? ValueRing{vts, nullptr, barriers + 2 * kKeyStages, barriers + 2 * kKeyStages + kValueStages}
                   : ValueRing{vts, nullptr, keyRing.full, keyRing.empty};

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int warpGroup = warp / 4;
  const QueryBlock<BM, BN> block(p, warp, g);
  if (threadIdx.x == 0) {
    keyRing.init(4 * kConsumers);
    if constexpr (kValuesApart) valueRing.init(4 * kConsumers);
    barrierInitFence();
  }
  __syncthreads();

  if (warpGroup == kConsumers) {
    // The producer warpgroup: one lane issues the copies; its registers go to the consumers.
    setMaxRegisters<Traits::kProducerRegisters, false>();
    if (threadIdx.x % 128 != 0) return;
    const int tiles = (p.seqK + BN - 1) / BN;
    const int64_t first = (int64_t(block.b) * p.headsKV + block.h / p.group) * tiles * kTileFloats;
    for (int tile = block.tileBegin, i = 0; tile < block.tileEnd; ++tile, ++i) {
      keyRing.load(keyTiles + first, valueTiles + first, tile, i);
      if constexpr (kValuesApart) valueRing.load(valueTiles + first, nullptr, tile, i);
    }
  } else {
    // A consumer warpgroup: its 64 query rows.
    setMaxRegisters<Traits::kConsumerRegisters, true>();
    float* queries = qs + warpGroup * 64 * HD;
    // Whether a value tile of the block's holds a non-finite value (rarely): its lanes read the
    // tiles' entries of nonFiniteKeys while Q is copied, and later tiles spend a branch on it.
    const uint64_t* tileNonFiniteKeys =
        nonFiniteKeys + (int64_t(block.b) * p.headsKV + block.h / p.group) * ((p.seqK + BN - 1) / BN);
    uint64_t anyNonFiniteKeys = 0;
    for (int tile = block.tileBegin + lane; tile < block.tileEnd; tile += 32)
      anyNonFiniteKeys |= tileNonFiniteKeys[tile];
    if (block.tileBegin < block.tileEnd) {
      loadRoundedRows<HD>(queries, block.q, p.seqQ, p.headDim, block.row0 + warpGroup * 64, p.headDim % 4 == 0,
                          threadIdx.x % 128);
      // The rounded Q is read by the tensor cores next.
      fenceAsyncProxy();
      namedBarrier(1 + warpGroup, 128);
    }
    const uint64_t qDescriptor = coreTileDescriptor<HD>(queries);
    const bool valuesNonFinite = __any_sync(0xffffffffu, anyNonFiniteKeys != 0);
    const float scaleLog2 = p.scale * kLog2e;

    OnlineSoftmax<kScoreTiles, kOutTiles> softmax;
    float o[kOutTiles][4];
    zero(o);
    Tf32Mma::A head[kScoreTiles], tail[kScoreTiles];
    // The stage of the block's value tile i, once it has landed (with its keys, where they share it).
    auto landedValues = [&](int i) {
      const int stage = valueRing.stage(i);
      if constexpr (kValuesApart) barrierWait(&valueRing.full[stage], valueRing.parity(i));
      return stage;
    };
    // O += P V for the probabilities in head and tail, V of `stage`.
    auto issueOutputProducts = [&](int stage) {
      const uint64_t values = coreTileDescriptor<BN>(vts + stage * kTileFloats);
#pragma unroll
      for (int step = 0; step < kScoreTiles; ++step) {
        if constexpr (HD == 128) {
          wgmmaRegisters128(o, tail[step].x, advanceK(values, step));
          wgmmaRegisters128(o, head[step].x, advanceK(values, step));
        } else {
          wgmmaRegisters64(o, tail[step].x, advanceK(values, step));
          wgmmaRegisters64(o, head[step].x, advanceK(values, step));
        }
      }
    };

    for (int tile = block.tileBegin, i = 0; tile < block.tileEnd; ++tile, ++i) {
      const int keyStage = keyRing.stage(i);
      barrierWait(&keyRing.full[keyStage], keyRing.parity(i));

      float s[kScoreTiles][4];
      const uint64_t keys = coreTileDescriptor<HD>(ks + keyStage * kTileFloats);
      wgmmaFence();
#pragma unroll
      for (int step = 0; step < HD / 8; ++step)
        wgmmaShared64(s, advanceK(qDescriptor, step), advanceK(keys, step), step == 0);
      wgmmaCommit();
      // The previous tile's P·V, left running under this tile's softmax.
      if (i > 0) {
        issueOutputProducts(landedValues(i - 1));
        wgmmaCommit();
        wgmmaWait<1>();
      } else {
        wgmmaWait<0>();
      }
      pinAccumulators(s);
      // These keys are no longer read: the producer may refill their stage.
      if (kValuesApart && lane == 0) barrierArrive(&keyRing.empty[keyStage]);

      const int key0 = tile * BN;
      const float noBias[kScoreTiles][4] = {};
      float correction[2];
      softmax.template step<false>(s, correction, noBias, p, scaleLog2, key0, block.fullTile(key0), block.range,
                                   block.dropState, t);
      if (valuesNonFinite) poisonReaders(s, softmax.rowSum, tileNonFiniteKeys[tile], t);
      wgmmaWait<0>();
      pinAccumulators(o);
      // Nor are the previous tile's values.
      if (i > 0 && lane == 0) barrierArrive(&valueRing.empty[valueRing.stage(i - 1)]);
      softmax.rescale(o, correction);
#pragma unroll
      for (int step = 0; step < kScoreTiles; ++step) Tf32Mma::splitAccToA(s, step, head[step], tail[step]);
    }
    if (block.tileBegin < block.tileEnd) {
      const int stage = landedValues(block.tileEnd - 1 - block.tileBegin);
      wgmmaFence();
      issueOutputProducts(stage);
      wgmmaCommit();
      wgmmaWait<0>();
      pinAccumulators(o);
    }
    storeOutputRows(p, block.bh, block.rows, softmax.rowMax, softmax.rowSum, o, t);
  }
#endif
}

template <class Traits>
cudaError_t launch(const AttentionParams& p, Scratch& scratch, cudaStream_t stream) {
  constexpr auto kernel = wgmmaForwardKernel<Traits>;
  const cudaError_t allowed = allowSharedMemory<kernel>(Traits::kSmemBytes);
  if (allowed != cudaSuccess) return allowed;
  constexpr int HD = Traits::kHeadDim;
  const int tiles = (p.seqK + kTileKeys - 1) / kTileKeys;
  const size_t bytes = size_t(p.batch) * p.headsKV * tiles * kTileKeys * HD * sizeof(float);
  float* keyTiles = static_cast<float*>(scratch.allocate(bytes, "key tiles"));
  float* valueTiles = static_cast<float*>(scratch.allocate(bytes, "value tiles"));
  auto* nonFiniteKeys = static_cast<uint64_t*>(
      scratch.allocate(size_t(p.batch) * p.headsKV * tiles * sizeof(uint64_t), "non-finite value keys"));
  prepareTilesKernel<HD><<<dim3(tiles, p.batch * p.headsKV), 256, 0, stream>>>(p, keyTiles, valueTiles, nonFiniteKeys);
  const cudaError_t prepared = cudaGetLastError();
  if (prepared != cudaSuccess) return prepared;
  const dim3 grid(p.batch * p.headsQ, (p.seqQ + Traits::kBlockM - 1) / Traits::kBlockM);
  kernel<<<grid, Traits::kThreads, Traits::kSmemBytes, stream>>>(p, keyTiles, valueTiles, nonFiniteKeys);
  return cudaGetLastError();
}

}  // namespace

cudaError_t wgmmaForwardAvailable(bool* available) {
  static PerDevice<bool> compiled;
  return compiled.get(available, [](bool* value) {
    int flag = 0;
    const cudaError_t error = cudaMemcpyFromSymbol(&flag, wgmmaCompiled, sizeof flag);
    *value = flag == 1;
    return error;
  });
}

cudaError_t launchWgmmaForward(const AttentionParams& p, Scratch& scratch, cudaStream_t stream) {
  return paddedHeadDim(p) == 64 ? launch<WgmmaForwardConfig<64>::type>(p, scratch, stream)
                                : launch<WgmmaForwardConfig<128>::type>(p, scratch, stream);
}

}  // namespace attention
