// The device-pointer entry: one forward or backward call on float32 buffers already on the
// device, scratch from the caller's Scratch, work queued on the caller's stream. The addon
// (host arrays, pooled buffers), the bench build and TensorFlow's GPU kernels (TensorFlow's
// buffers and allocator) all call these two functions; nothing else launches the kernels.
// Failures throw: std::invalid_argument for a spec the kernels decline, CudaError for CUDA's.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <vector>
#include "attention_params.h"
#include "scratch.h"

namespace attention {

// A call's sizes and attributes (docs/contract.md §2–§5) and its biases' broadcast strides.
struct CallSpec {
  Precision precision = Precision::TF32;
  int batch = 0, headsQ = 0, headsKV = 0, seqQ = 0, seqK = 0, headDim = 0, valueDim = 0;
  float scale = 1.f;
  int causal = 0;
  double dropoutRate = 0;
  uint32_t dropoutSeed = 0;
  std::vector<int> qSeqStarts, kSeqStarts;
  bool hasBias = false, hasWindowBias = false;
  int64_t biasStride[4] = {0, 0, 0, 0};
  int64_t windowStride[4] = {0, 0, 0, 0};
  int numWindows = 1;
  size_t biasElements = 0, windowElements = 0;

  size_t queryElements() const { return size_t(batch) * headsQ * seqQ * headDim; }
  size_t keyElements() const { return size_t(batch) * headsKV * seqK * headDim; }
  size_t valueElements() const { return size_t(batch) * headsKV * seqK * valueDim; }
  size_t outputElements() const { return size_t(batch) * headsQ * seqQ * valueDim; }
  size_t rowElements() const { return size_t(batch) * headsQ * seqQ; }
};

// Throws std::invalid_argument naming what the kernels decline (head dims above kMaxHeadDim,
// Hq not a multiple of Hkv, ...); callers check before they allocate.
void checkSpec(const CallSpec& spec);

// Contiguous device tensors in the contract's layout; biases null where absent.
struct ForwardTensors {
  const float *query, *key, *value, *bias, *windowBias;
  float *output, *logsumexp;
};

struct BackwardTensors {
  const float *dy, *query, *key, *value, *output, *logsumexp, *bias, *windowBias;
  float *dQuery, *dKey, *dValue, *dBias, *dWindowBias;  // written whole
};

// Queue the call on `stream`; returns before it runs. Scratch must stay valid until it has.
void attentionForward(const CallSpec& spec, const ForwardTensors& tensors, Scratch& scratch, cudaStream_t stream);
void attentionBackward(const CallSpec& spec, const BackwardTensors& tensors, Scratch& scratch, cudaStream_t stream);

}  // namespace attention
