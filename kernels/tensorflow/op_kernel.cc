#include "op_kernel.h"

namespace tfjs_attention {
namespace tf {

StatusPtr newStatus() { return StatusPtr(TF_NewStatus(), &TF_DeleteStatus); }

void destroyOpKernel(void* kernel) { delete static_cast<OpKernel*>(kernel); }

void fail(TF_OpKernelContext* ctx, TF_Code code, const std::string& message) {
  StatusPtr status = newStatus();
  TF_SetStatus(status.get(), code, message.c_str());
  TF_OpKernelContext_Failure(ctx, status.get());
}

std::vector<TensorPtr> getInputs(TF_OpKernelContext* ctx, TF_Status* status) {
  std::vector<TensorPtr> inputs;
  for (int i = 0; i < TF_NumInputs(ctx); i++) {
    TF_Tensor* tensor = nullptr;
    TF_GetInput(ctx, i, &tensor, status);
    if (TF_GetCode(status) != TF_OK) return {};
    inputs.emplace_back(tensor, &TF_DeleteTensor);
  }
  return inputs;
}

TensorPtr allocateOutput(TF_OpKernelContext* ctx, int index, const Dims& dims, TF_Status* status) {
  TensorPtr tensor(TF_AllocateOutput(ctx, index, TF_FLOAT, dims.data(), static_cast<int>(dims.size()),
                                     elementCount(dims) * sizeof(float), status),
                   &TF_DeleteTensor);
  if (TF_GetCode(status) != TF_OK) tensor.reset();
  return tensor;
}

}  // namespace tf
}  // namespace tfjs_attention
