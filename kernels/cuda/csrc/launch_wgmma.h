// The Hopper TF32 forward (forward_wgmma.cu). launchForward dispatches to it when
// wgmmaForwardFits (kernel_heuristics.h) and the device runs the addon's sm_90a code.
#pragma once
#include <cuda_runtime.h>
#include "attention_params.h"
#include "scratch.h"

namespace attention {

// Whether the current device runs the wgmma kernel (an sm_90a build on a compute capability 9.0 GPU).
cudaError_t wgmmaForwardAvailable(bool* available);

cudaError_t launchWgmmaForward(const AttentionParams& p, Scratch& scratch, cudaStream_t stream);

}  // namespace attention
