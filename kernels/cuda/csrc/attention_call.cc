#include "attention_call.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include "cuda_check.h"
#include "kernel_heuristics.h"
#include "launch.h"

namespace attention {
namespace {

// AttentionParams with the sizes and attributes of `spec`, no tensor pointers; the
// block-diagonal starts go to the device through scratch.
AttentionParams paramsFor(const CallSpec& spec, Scratch& scratch, cudaStream_t stream) {
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
    int* starts = static_cast<int*>(scratch.allocate(2 * count * sizeof(int), "seqStarts"));
    std::vector<int> both(spec.qSeqStarts);
    both.insert(both.end(), spec.kSeqStarts.begin(), spec.kSeqStarts.end());
    // Pageable source: the copy has taken it when the call returns.
    check(cudaMemcpyAsync(starts, both.data(), both.size() * sizeof(int), cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync(seqStarts)");
    p.qStarts = starts;
    p.kStarts = starts + count;
    p.numBlocks = int(count) - 1;
  }
  return p;
}

void zero(float* data, size_t elements, const char* what, cudaStream_t stream) {
  if (elements == 0) return;
  check(cudaMemsetAsync(data, 0, elements * sizeof(float), stream), std::string("cudaMemsetAsync(") + what + ")");
}

}  // namespace

void checkSpec(const CallSpec& s) {
  const auto fail = [](const std::string& message) { throw std::invalid_argument(message); };
  if (int(s.precision) < 0 || int(s.precision) > 2) fail("precision must be 0 ('highest'), 1 ('tf32') or 2 ('bf16')");
  if (s.batch < 0 || s.headsQ < 0 || s.seqQ < 0 || s.seqK < 0 || s.headDim < 0 || s.valueDim < 0) {
    fail("sizes must not be negative");
  }
  if (s.headsKV <= 0 || s.headsQ % s.headsKV != 0) fail("Hq must be a multiple of Hkv");
  const int dim = std::max(s.headDim, s.valueDim);
  if (dim > kMaxHeadDim) {
    fail("head dims above " + std::to_string(kMaxHeadDim) + " are not supported, got " + std::to_string(dim));
  }
  if (s.causal < 0 || s.causal > 2) fail("causal must be 0, 1 or 2");
  if (!(s.dropoutRate >= 0 && s.dropoutRate < 1)) fail("dropout rate must be in [0, 1)");
  if (s.qSeqStarts.size() != s.kSeqStarts.size()) fail("qSeqStarts and kSeqStarts differ in length");
  if (s.qSeqStarts.size() == 1) fail("block-diagonal starts need at least two entries");
  if (s.hasWindowBias && (s.numWindows <= 0 || s.batch % s.numWindows != 0)) {
    fail("the window bias's window count must divide the batch");
  }
}

void attentionForward(const CallSpec& spec, const ForwardTensors& t, Scratch& scratch, cudaStream_t stream) {
  checkSpec(spec);
  AttentionParams p = paramsFor(spec, scratch, stream);
  p.q = t.query;
  p.k = t.key;
  p.v = t.value;
  p.bias = spec.hasBias ? t.bias : nullptr;
  p.windowBias = spec.hasWindowBias ? t.windowBias : nullptr;
  p.out = t.output;
  p.lse = t.logsumexp;
  check(launchForward(p, spec.precision, scratch, stream), "forward kernel launch");
}

void attentionBackward(const CallSpec& spec, const BackwardTensors& t, Scratch& scratch, cudaStream_t stream) {
  checkSpec(spec);
  AttentionParams p = paramsFor(spec, scratch, stream);
  p.dout = t.dy;
  p.q = t.query;
  p.k = t.key;
  p.v = t.value;
  // The backward only reads the forward's results.
  p.out = const_cast<float*>(t.output);
  p.lse = const_cast<float*>(t.logsumexp);
  p.dq = t.dQuery;
  p.dk = t.dKey;
  p.dv = t.dValue;
  if (spec.hasBias) {
    p.bias = t.bias;
    p.dbias = t.dBias;
    zero(p.dbias, spec.biasElements, "dBias", stream);
  }
  if (spec.hasWindowBias) {
    p.windowBias = t.windowBias;
    p.dwindowBias = t.dWindowBias;
    zero(p.dwindowBias, spec.windowElements, "dWindowBias", stream);
  }
  p.delta = static_cast<float*>(scratch.allocate(spec.rowElements() * sizeof(float), "delta"));
  check(launchBackward(p, spec.precision, scratch, stream), "backward kernel launch");
}

}  // namespace attention
