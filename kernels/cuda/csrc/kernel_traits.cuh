// Tile shapes and warp counts, kept apart from the kernel bodies. kHeadDim is the padded
// head dim that both D and Dv fit in; shared-memory rows are padded by 4 floats so the
// fragment loads of mma.cuh fall on distinct banks.
#pragma once

#include "tuning.h"

namespace attention {

// Unrolling of the products' k loops (warpGemm): kUnrollAll unrolls every loop fully (it is at
// least the k steps of any product here: head dims <= 128, 64-row tiles), which measured faster
// where the registers allow it; 2 where full unrolling spills (bias values take registers) or
// measured slower (the short forward).
constexpr int kUnrollAll = 16;

template <int kHeadDim_, int kWarps_, int kBlockN_, int kMinBlocks_, int kGemmUnroll_ = kUnrollAll>
struct ForwardTraits {
  static constexpr int kGemmUnroll = kGemmUnroll_;
  static constexpr int kMinBlocks = kMinBlocks_;  // blocks per multiprocessor the registers must allow
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBlockM = 16 * kWarps;  // each warp owns 16 query rows
  static constexpr int kBlockN = kBlockN_;     // keys per tile, double-buffered
  static constexpr int kLd = kHeadDim + 4;
  // V transposed [dim][key] for the TF32 policy's ldmatrix reads, next to one raw V stage.
  static constexpr int kLdTransposed = kBlockN + 4;
  static constexpr int kTwoValueStages = 2 * kBlockN * kLd;
  static constexpr int kValueStageAndTransposed = kBlockN * kLd + kHeadDim * kLdTransposed;
  static constexpr int kValueFloats =
      kTwoValueStages > kValueStageAndTransposed ? kTwoValueStages : kValueStageAndTransposed;
  static constexpr int kSmemBytes = ((kBlockM + 2 * kBlockN) * kLd + kValueFloats) * 4;
};

template <int kHeadDim_, int kWarps_, int kMinBlocks_>
struct BackwardTraits {
  static constexpr int kGemmUnroll = kUnrollAll;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kMinBlocks = kMinBlocks_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBlockM = 64;  // queries per step
  static constexpr int kBlockN = 64;  // keys owned by a block
  // S and dP: every warp computes both on a share of 16 queries × kScoreColTiles · 8 keys.
  static constexpr int kScoreWarpCols = kWarps / (kBlockM / 16);
  static constexpr int kScoreColTiles = kBlockN / 8 / kScoreWarpCols;
  // dV in the first half of the warps, dK in the other: shares of two 16-key tiles (which
  // share each B fragment) × kKeyDimTiles · 8 dims.
  static constexpr int kGroupWarps = kWarps / 2;
  static constexpr int kKeyRowTiles = 2;
  static constexpr int kKeyDimTiles = kHeadDim / 8 / (kGroupWarps / (kBlockN / 16 / kKeyRowTiles));
  // dQ over every warp: 32-query shares where each warp still gets column pairs of tiles.
  static constexpr int kDqRowTiles = kHeadDim / 8 / (kWarps / 2) >= 2 ? 2 : 1;
  static constexpr int kDqWarpRows = kBlockM / 16 / kDqRowTiles;
  static constexpr int kDqDimTiles = kHeadDim / 8 / (kWarps / kDqWarpRows);
  static constexpr int kLd = kHeadDim + 4;
  static constexpr int kLdTransposed = kBlockM + 4;  // P and dS [key][query]
  static constexpr int kSmemBytes = ((2 * kBlockN + 2 * kBlockM) * kLd + 2 * kBlockN * kLdTransposed + 2 * kBlockM) * 4;
  static_assert(kScoreColTiles % 2 == 0 && kKeyDimTiles % 2 == 0 && kDqDimTiles % 2 == 0, "column tiles in pairs");
  static_assert(kScoreColTiles * 4 <= 32, "a warp's dropout decisions fit in 32 bits");
};

// The Hopper TF32 forward (forward_wgmma.cu): kConsumers warpgroups of 64 query rows each and
// a producer warpgroup; Q and rings of kKeyStages key tiles and kValueStages value tiles (64
// keys each; kValueStages 0: the values share the key stages) in the core-matrix layout of
// wgmma.cuh, with a full and an empty barrier per stage. The producer keeps 24 registers and
// the consumers share the rest of the block's entry allocation (setmaxnreg, at most 240 each).
template <int kHeadDim_, int kConsumers_, int kKeyStages_, int kValueStages_>
struct WgmmaForwardTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kConsumers = kConsumers_;
  static constexpr int kKeyStages = kKeyStages_;
  static constexpr int kValueStages = kValueStages_;
  static constexpr int kThreads = 128 * (kConsumers + 1);
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kEntryRegisters = (65536 / kThreads > 255 ? 255 : 65536 / kThreads) / 8 * 8;
  static constexpr int kProducerRegisters = 24;
  static constexpr int kConsumerShare =
      (kEntryRegisters * kThreads - 128 * kProducerRegisters) / (128 * kConsumers) / 8 * 8;
  static constexpr int kConsumerRegisters = kConsumerShare > 240 ? 240 : kConsumerShare;
  static constexpr int kValueRingStages = kValueStages > 0 ? kValueStages : kKeyStages;
  static constexpr int kSmemBytes =
      (kBlockM * kHeadDim + (kKeyStages + kValueRingStages) * 64 * kHeadDim) * 4 + 2 * (kKeyStages + kValueStages) * 8;
  static_assert(kHeadDim == 64 || kHeadDim == 128, "outputs in m64n64 or m64n128 products");
};
template <int kHeadDim>
struct WgmmaForwardConfig;
template <>
struct WgmmaForwardConfig<64> {
  using type =
      WgmmaForwardTraits<64, WGMMA_FORWARD_64_CONSUMERS, WGMMA_FORWARD_64_KEY_STAGES, WGMMA_FORWARD_64_VALUE_STAGES>;
};
template <>
struct WgmmaForwardConfig<128> {
  using type = WgmmaForwardTraits<128, 2, WGMMA_FORWARD_128_KEY_STAGES, WGMMA_FORWARD_128_VALUE_STAGES>;
};

// The configurations the launchers instantiate, by padded head dim and whether a bias is
// read (bias values take registers: fewer blocks per multiprocessor, or smaller key tiles).
template <int kHeadDim, bool kHasBias>
struct ForwardConfig;
template <int kHeadDim>
struct BackwardConfig;
template <>
struct BackwardConfig<32> {
  using type = BackwardTraits<32, 8, 2>;
};
template <>
struct BackwardConfig<64> {
  using type = BackwardTraits<64, 8, BACKWARD_64_MIN_BLOCKS>;
};
template <>
struct BackwardConfig<128> {
  using type = BackwardTraits<128, BACKWARD_128_WARPS, 1>;
};
template <>
struct ForwardConfig<32, false> {
  using type = ForwardTraits<32, 4, 64, 4>;
};
template <>
struct ForwardConfig<32, true> {
  using type = ForwardTraits<32, 4, FORWARD_32_BIAS_BLOCK_N, FORWARD_32_BIAS_MIN_BLOCKS, 2>;
};
template <>
struct ForwardConfig<64, false> {
  using type = ForwardTraits<64, 8, FORWARD_64_BLOCK_N, 2>;
};
template <>
struct ForwardConfig<64, true> {
  using type = ForwardTraits<64, 8, 32, 2, 2>;
};
template <>
struct ForwardConfig<128, false> {
  using type = ForwardTraits<128, 8, FORWARD_128_BLOCK_N, 1>;
};
template <>
struct ForwardConfig<128, true> {
  using type = ForwardTraits<128, 8, 32, 1, 2>;
};

}  // namespace attention

namespace attention {

// Short sequences (Swin windows: Sq, Sk <= 64): a block of 4 warps takes one (batch, head)
// window at a time, all of its keys in one tile, and loads the next window into a second
// stage while it computes this one (persistent grid). A stage holds Q, K and V. With
// kHeldBias, the summed bias has space of its own after the stages and stays there while
// consecutive windows share it.
template <int kHeadDim_, int kMinBlocks_, bool kHeldBias_ = false>
struct ShortForwardTraits {
  static constexpr int kGemmUnroll = 2;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kMinBlocks = kMinBlocks_;
  static constexpr bool kHeldBias = kHeldBias_;
  static constexpr int kWarps = 4;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kMaxSeq = 16 * kWarps;  // query rows (16 per warp) and keys of a window
  static constexpr int kLd = kHeadDim + 4;
  static constexpr int kStageFloats = 3 * kMaxSeq * kLd;
  // The window's summed bias [query][key]; a row stride of 72 keeps the 8-byte fragment reads
  // free of bank conflicts. Without kHeldBias it takes the Q and K space once QKᵀ is done.
  static constexpr int kBiasLd = 72;
  static constexpr int kSmemBytes = (2 * kStageFloats + (kHeldBias ? kMaxSeq * kBiasLd : 0)) * 4;
  static_assert(kMaxSeq * kBiasLd <= 2 * kMaxSeq * kLd, "the bias fits where Q and K were");
  static_assert(kMaxSeq * kMaxSeq % kThreads == 0 && kThreads % kMaxSeq == 0, "bias load mapping");
};

template <int kHeadDim, bool kHeldBias = false>
struct ShortForwardConfig;
template <>
struct ShortForwardConfig<32> {
  using type = ShortForwardTraits<32, SHORT_FORWARD_32_MIN_BLOCKS>;
};
template <>
struct ShortForwardConfig<32, true> {
  using type = ShortForwardTraits<32, SHORT_FORWARD_32_HELD_MIN_BLOCKS, true>;
};
template <>
struct ShortForwardConfig<64> {
  using type = ShortForwardTraits<64, 2>;
};

}  // namespace attention
