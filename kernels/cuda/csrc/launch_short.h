// The short-sequence forward (forward_short.cu): whole windows per block, for Sq, Sk <= 64
// and head dims <= 64. launchForward dispatches to it when shortForwardFits.
#pragma once
#include <cuda_runtime.h>
#include "attention_params.h"

namespace attention {

constexpr int kShortMaxSeq = 64;
constexpr int kShortMaxHeadDim = 64;

inline bool shortForwardFits(const AttentionParams& p) {
  return p.seqQ <= kShortMaxSeq && p.seqK <= kShortMaxSeq && p.headDim <= kShortMaxHeadDim &&
         p.valueDim <= kShortMaxHeadDim;
}

cudaError_t launchShortForward(const AttentionParams& p, Precision precision, cudaStream_t stream);

}  // namespace attention
