// What the CPU and GPU kernels of either op share around their compute: the kernel object
// built from the attrs, failing the call, and fetching inputs and allocating outputs.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "attention_problem.h"
#include "tensorflow/c/kernels.h"

namespace tfjs_attention {
namespace tf {

using StatusPtr = std::unique_ptr<TF_Status, decltype(&TF_DeleteStatus)>;
using TensorPtr = std::unique_ptr<TF_Tensor, decltype(&TF_DeleteTensor)>;

StatusPtr newStatus();

/** A kernel of the op `opName`, with its checked attrs. */
struct OpKernel {
  const char* opName;
  OpAttrs attrs;
};

/** TF_KernelBuilder's create function for the op named by `*Name`; null when an attr is bad. */
template <const char* const* Name>
void* createOpKernel(TF_OpKernelConstruction* ctx) {
  auto* kernel = new OpKernel{*Name, {}};
  if (readOpAttrs(ctx, kernel->opName, &kernel->attrs)) return kernel;
  delete kernel;
  return nullptr;
}

/** TF_KernelBuilder's delete function for createOpKernel's kernels. */
void destroyOpKernel(void* kernel);

/** Fails the call with `code` and `message`. */
void fail(TF_OpKernelContext* ctx, TF_Code code, const std::string& message);

/** The call's inputs, held for the call; on TensorFlow's failure `status` has it and the rest are not fetched. */
std::vector<TensorPtr> getInputs(TF_OpKernelContext* ctx, TF_Status* status);

/** Allocates float32 output `index` of shape `dims`; null with `status` set when TensorFlow cannot. */
TensorPtr allocateOutput(TF_OpKernelContext* ctx, int index, const Dims& dims, TF_Status* status);

}  // namespace tf
}  // namespace tfjs_attention
