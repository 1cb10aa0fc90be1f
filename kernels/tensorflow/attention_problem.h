// What a kernel of either op derives from its attrs and input shapes: the checked attrs,
// the sizes, and the biases' broadcast strides (as src/kernel_layout.ts computes them), in
// the compute core's Problem. Shared by the CPU and GPU kernels, so both reject the same
// calls with the same messages (docs/contract.md §6).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/attention_cpu.h"
#include "tensorflow/c/kernels.h"

namespace tfjs_attention {
namespace tf {

struct OpAttrs {
  float scale = 1.f;
  int64_t causal = 0;
  float dropoutRate = 0.f;
  int64_t dropoutSeed = 0;
  std::vector<int64_t> qSeqStarts, kSeqStarts;
  bool hasBias = false, hasWindowBias = false;
};

/** Reads and checks the attrs; on a bad attr fails the construction and returns false. */
bool readOpAttrs(TF_OpKernelConstruction* ctx, const char* opName, OpAttrs* attrs);

using Dims = std::vector<int64_t>;

/** The dims of a tensor. */
Dims dimsOf(const TF_Tensor* tensor);

std::string formatDims(const Dims& dims);

/**
 * Checks the input shapes against each other and the attrs and fills `problem` (sizes,
 * attrs, strides; no data pointers). Returns the error message, or "" when the call is valid.
 * `bias` / `windowBias` are ignored unless the attrs say they are present.
 */
std::string describeProblem(const char* opName, const OpAttrs& attrs, const Dims& query, const Dims& key,
                            const Dims& value, const Dims& bias, const Dims& windowBias, cpu::Problem* problem);

/**
 * describeProblem for the Grad op, which checks too that dy and output have the output's shape
 * [batch, headsQ, seqQ, valueDim] and logsumexp [batch, headsQ, seqQ].
 */
std::string describeGradProblem(const char* opName, const OpAttrs& attrs, const Dims& dy, const Dims& query,
                                const Dims& key, const Dims& value, const Dims& output, const Dims& logsumexp,
                                const Dims& bias, const Dims& windowBias, cpu::Problem* problem);

/** Number of elements of `dims`. */
int64_t elementCount(const Dims& dims);

}  // namespace tf
}  // namespace tfjs_attention
