// Host entry points of the kernels: each picks the kernel for the call (kernel_heuristics.h),
// launches it on `stream` and returns the first CUDA error (cudaSuccess if none). Scratch is
// taken from `scratch`.
#pragma once
#include <cuda_runtime.h>
#include "attention_params.h"
#include "scratch.h"

namespace attention {

cudaError_t launchForward(const AttentionParams& p, Precision precision, Scratch& scratch, cudaStream_t stream);

// Expects p.dbias and p.dwindowBias zeroed, p.delta sized [B, Hq, Sq]; zeroes p.dq itself.
cudaError_t launchBackward(const AttentionParams& p, Precision precision, Scratch& scratch, cudaStream_t stream);

}  // namespace attention
