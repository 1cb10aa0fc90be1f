#include "attention_call.h"

#include <cmath>
#include "cuda_check.h"

namespace attention {

AttentionParams paramsFor(const CallSpec& spec, DeviceBuffer& starts, cudaStream_t stream) {
  AttentionParams p;
  p.batch = spec.batch;
  p.headsQ = spec.headsQ;
  p.headsKV = spec.headsKV;
  p.seqQ = spec.seqQ;
  p.seqK = spec.seqK;
  p.headDim = spec.headDim;
  p.valueDim = spec.valueDim;
  p.group = spec.headsQ / spec.headsKV;
  for (int d = 0; d < 4; ++d) {
    p.biasStride[d] = spec.biasStride[d];
    p.windowStride[d] = spec.windowStride[d];
  }
  p.numWindows = spec.numWindows;
  p.scale = spec.scale;
  p.causal = spec.causal;
  if (spec.dropoutRate > 0) {
    p.dropout = true;
    p.dropoutSeed = spec.dropoutSeed;
    p.dropoutThreshold = uint32_t(std::floor(spec.dropoutRate * 4294967296.0));
    p.dropoutScale = float(1.0 / (1.0 - spec.dropoutRate));
  }
  if (!spec.qSeqStarts.empty()) {
    const size_t count = spec.qSeqStarts.size();
    starts = DeviceBuffer(2 * count * sizeof(int), "seqStarts");
    std::vector<int> both(spec.qSeqStarts);
    both.insert(both.end(), spec.kSeqStarts.begin(), spec.kSeqStarts.end());
    check(cudaMemcpyAsync(starts.get<int>(), both.data(), both.size() * sizeof(int), cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync(seqStarts)");
    p.qStarts = starts.get<int>();
    p.kStarts = starts.get<int>() + count;
    p.numBlocks = int(count) - 1;
  }
  return p;
}

cudaStream_t attentionStream() {
  static cudaStream_t stream = [] {
    cudaStream_t s;
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return s;
  }();
  return stream;
}

}  // namespace attention
