// The Hopper TF32 forward (forward_wgmma.cu). launchForward dispatches to it for the 'tf32'
// precision when wgmmaForwardFits and the device runs the addon's sm_90a code.
#pragma once
#include <algorithm>
#include <cuda_runtime.h>
#include "attention_params.h"

namespace attention {

// No dense or window bias (their values would take the registers the products use), and
// padded head dims of 64 or 128.
inline bool wgmmaForwardFits(const AttentionParams& p) {
  const int dim = std::max(p.headDim, p.valueDim);
  return p.bias == nullptr && p.windowBias == nullptr && dim > 32 && dim <= 128;
}

// Whether the device runs the wgmma kernel (an sm_90a build on a compute capability 9.0 GPU).
cudaError_t wgmmaForwardAvailable(bool* available);

cudaError_t launchWgmmaForward(const AttentionParams& p, cudaStream_t stream);

}  // namespace attention
