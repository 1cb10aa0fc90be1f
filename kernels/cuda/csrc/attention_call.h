// One attention call as the host sees it: the spec from JavaScript, turned into device
// buffers and AttentionParams. Shared by the N-API bindings and the benchmark entry.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>
#include <vector>
#include "attention_params.h"
#include "device_pool.h"

namespace attention {

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

// AttentionParams with sizes and attributes of `spec`, no pointers; the block-diagonal
// starts go to `starts` on the device.
AttentionParams paramsFor(const CallSpec& spec, DeviceBuffer& starts, cudaStream_t stream);

cudaStream_t attentionStream();

}  // namespace attention
