// The short-sequence forward (forward_short.cu): whole windows per block. launchForward
// dispatches to it when shortForwardFits (kernel_heuristics.h).
#pragma once
#include <cuda_runtime.h>
#include "attention_params.h"

namespace attention {

cudaError_t launchShortForward(const AttentionParams& p, Precision precision, cudaStream_t stream);

}  // namespace attention
