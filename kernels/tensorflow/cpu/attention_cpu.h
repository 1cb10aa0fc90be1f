// Fused scaled dot-product attention on the CPU, independent of TensorFlow: the compute
// core behind the TensorFlow op library's CPU kernels (docs/contract.md §1–§5).
// Tensors are contiguous float32 in the contract's layout; biases are read through
// broadcast strides and never materialized.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tfjs_attention {
namespace cpu {

struct Problem {
  int batch = 0, headsQ = 0, headsKV = 0, seqQ = 0, seqK = 0, headDim = 0, valueDim = 0;
  float scale = 1.f;
  int causal = 0;  // 0 none, 1 top-left, 2 bottom-right (inside each block)
  float dropoutRate = 0.f;
  uint32_t dropoutSeed = 0;
  std::vector<int> qSeqStarts, kSeqStarts;  // cumulative starts with the end; empty: one block
  // Dense bias read at b*s[0] + h*s[1] + i*s[2] + j*s[3] over [B, Hq, Sq, Sk] (0 on broadcast dims).
  const float* bias = nullptr;
  int64_t biasStride[4] = {0, 0, 0, 0};
  // Window bias read at (b % numWindows)*s[0] + h*s[1] + i*s[2] + j*s[3].
  const float* windowBias = nullptr;
  int64_t windowStride[4] = {0, 0, 0, 0};
  int numWindows = 1;
};

struct ForwardTensors {
  const float *q, *k, *v;  // [B,Hq,Sq,D], [B,Hkv,Sk,D], [B,Hkv,Sk,Dv]
  float* out;              // [B,Hq,Sq,Dv]
  float* logsumexp;        // [B,Hq,Sq]; +Infinity on fully masked rows
};

struct BackwardTensors {
  const float *dout, *q, *k, *v, *out, *logsumexp;
  float *dq, *dk, *dv;  // written whole
  float* dbias;         // the bias's own (unbroadcast) elements, or null; written whole
  int64_t biasElements;
  float* dwindowBias;  // windowBias's own elements, or null; written whole
  int64_t windowElements;
};

// numThreads <= 0: the environment variable TFJS_ATTENTION_THREADS when it is a positive
// integer, else std::thread::hardware_concurrency(), read at the first such call. Results are the same bits on every
// call with the same thread count, whatever else runs. The forward's do not depend on the
// thread count; the backward's summation order may (its split of the work, and one partial
// bias gradient per thread where batches or heads share bias elements).
void forward(const Problem& problem, const ForwardTensors& tensors, int numThreads);
void backward(const Problem& problem, const BackwardTensors& tensors, int numThreads);

// The instruction-set variants: "avx512", "avx2" (x86-64, where the CPU and the OS support
// them) and "portable" (everywhere), best first. The best one runs unless the environment
// variable TFJS_ATTENTION_SIMD names another supported one, or selectSimd() is called.
std::vector<std::string> supportedSimd();
std::string selectedSimd();
// False, changing nothing, when `name` is not supported here.
bool selectSimd(const std::string& name);

}  // namespace cpu
}  // namespace tfjs_attention
