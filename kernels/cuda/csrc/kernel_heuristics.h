// Which kernel runs a call. launchForward (forward.cu) and launchBackward (backward.cu) follow
// this table; the functions below are its conditions.
//
// | pass     | when (first match)                                             | kernel                         |
// | -------- | -------------------------------------------------------------- | ------------------------------ |
// | forward  | Sq, Sk <= 64 and D, Dv <= 64 (shortForwardFits)                | short forward, forward_short.cu |
// | forward  | 'tf32', no dense or window bias, 32 < max(D, Dv) <= 128, the   | Hopper forward,                |
// |          | device runs the sm_90a build (wgmmaForwardFits)                | forward_wgmma.cu               |
// | forward  | otherwise                                                      | tiled forward, forward.cu      |
// | backward | 'tf32', no causal or block-diagonal mask, >= 2 query steps per | stream-K backward, backward.cu |
// |          | key block, key blocks over one wave of resident blocks and not |                                |
// |          | a whole number of waves (streamKFits)                          |                                |
// | backward | otherwise                                                      | a block per key block,         |
// |          |                                                                | backward.cu                    |
//
// Within a kernel: configurations by padded head dim (paddedHeadDim, kernel_traits.cuh: 32, 64
// and 128; the short forward 32 and 64, the Hopper forward 64 and 128) and by whether a bias is
// read; the short forward holds a bias shared by runs of windows (holdsBias); the 'tf32'
// backward reads Q and dO rounded once by its row pass where several key blocks read each
// query tile (readsRoundedCopies). Head dims above kMaxHeadDim are declined: callers take the
// composed path (the addon's maxHeadDim, the TensorFlow GPU library's).
#pragma once
#include <algorithm>
#include <cstdint>
#include "attention_params.h"
#include "tuning.h"

namespace attention {

// The largest head dim (max of D and Dv) the kernels handle.
constexpr int kMaxHeadDim = 128;

// The head dim of the configuration that D and Dv fit in.
inline int paddedHeadDim(const AttentionParams& p) {
  const int dim = std::max(p.headDim, p.valueDim);
  return dim <= 32 ? 32 : dim <= 64 ? 64 : 128;
}

constexpr int kShortMaxSeq = 64;
constexpr int kShortMaxHeadDim = 64;

inline bool shortForwardFits(const AttentionParams& p) {
  return p.seqQ <= kShortMaxSeq && p.seqK <= kShortMaxSeq && p.headDim <= kShortMaxHeadDim &&
         p.valueDim <= kShortMaxHeadDim;
}

// No dense or window bias (their values would take the registers the products use), and
// padded head dims of 64 or 128. The launcher also asks whether the device runs the sm_90a code.
inline bool wgmmaForwardFits(const AttentionParams& p, Precision precision) {
  const int dim = std::max(p.headDim, p.valueDim);
  return kForwardWgmma && precision == Precision::TF32 && p.bias == nullptr && p.windowBias == nullptr && dim > 32 &&
         dim <= 128;
}

// Whether the short forward holds the summed bias across windows: consecutive windows of its
// walk by runs must share their bias sources (a bias broadcast over the batch, or none, and at
// least two images per window index), and each block must walk enough windows to pay for the
// space, which leaves fewer blocks per multiprocessor. Measured at Swin stage 1, 15.5 windows
// per block: 0.102 -> 0.083 ms; stage 3, 3.9 per block: 0.027 -> 0.028 ms.
constexpr int kHeldBiasMinWindowsPerBlock = 8;
inline bool holdsBias(const AttentionParams& p, int multiprocessors, int heldBlocksPerMultiprocessor) {
  if (!kShortForwardHeldBias || !(p.bias == nullptr || p.biasStride[0] == 0) || p.batch / p.numWindows < 2) {
    return false;
  }
  return int64_t(p.batch) * p.headsQ >=
         int64_t(kHeldBiasMinWindowsPerBlock) * multiprocessors * heldBlocksPerMultiprocessor;
}

// Query steps of one key block: every query head of its group, queryBlock rows at a time.
inline int backwardStepsPerKeyBlock(const AttentionParams& p, int queryBlock) {
  return p.group * ((p.seqQ + queryBlock - 1) / queryBlock);
}

// Stream-K is for the 'tf32' policy (under 'highest' and 'bf16' it measured slower,
// benchmarks/cuda/NOTES.md version 16), where every key block has the same steps, more than
// one; the launcher then asks the device for its resident blocks.
constexpr bool streamKPolicy(Precision precision) { return kStreamKBackward && precision == Precision::TF32; }
inline bool streamKCandidate(const AttentionParams& p, int stepsPerKeyBlock) {
  return p.causal == 0 && p.numBlocks == 0 && stepsPerKeyBlock >= 2;
}

// Stream-K where the key blocks are more than one wave of resident blocks but not a whole number
// of waves.
inline bool streamKFits(int64_t keyBlocks, int64_t residentBlocks) {
  return keyBlocks > residentBlocks && keyBlocks % residentBlocks != 0;
}

// Where the policy reads rounded tiles and several key blocks read each query tile, the row pass
// rounds Q and dO once into copies that the kernel reads. With one key block (Swin windows),
// rounding the tiles in shared memory costs less than the copies.
inline bool readsRoundedCopies(bool policyRoundsTiles, const AttentionParams& p, int keyBlock) {
  return policyRoundsTiles && p.seqK > keyBlock;
}

}  // namespace attention
