// Host entry points of the kernels: each picks the variant for the call's head dim and
// precision, launches it on `stream` and returns the first CUDA error (cudaSuccess if none).
#pragma once
#include <cuda_runtime.h>
#include "attention_params.h"

namespace attention {

// The largest head dim (max of D and Dv) the kernels handle.
constexpr int kMaxHeadDim = 128;

cudaError_t launchForward(const AttentionParams& p, Precision precision, cudaStream_t stream);

// The device's multiprocessor count, for launches that size a resident wave of blocks: read once
// (the addon works on one device).
cudaError_t multiprocessorCount(int* count);

// Expects p.dbias and p.dwindowBias zeroed, p.delta sized [B, Hq, Sq]; zeroes p.dq itself.
cudaError_t launchBackward(const AttentionParams& p, Precision precision, cudaStream_t stream);

}  // namespace attention
