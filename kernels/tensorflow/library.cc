// The op library's entry: loading it (TF_LoadLibrary, Python's tf.load_op_library, or
// dlopen into a process running TensorFlow) registers the ops and their CPU kernels.
#include <cstdio>
#include <memory>

#include "ops.h"

namespace {

struct RegisterOnLoad {
  RegisterOnLoad() {
    std::unique_ptr<TF_Status, decltype(&TF_DeleteStatus)> status(TF_NewStatus(), &TF_DeleteStatus);
    tfjs_attention::tf::registerOps(status.get());
    if (TF_GetCode(status.get()) == TF_OK) tfjs_attention::tf::registerCpuKernels(status.get());
    // A static initializer cannot return an error; TF_LoadLibrary's caller finds the ops missing.
    if (TF_GetCode(status.get()) != TF_OK) std::fprintf(stderr, "tfjs-attention: %s\n", TF_Message(status.get()));
  }
};

RegisterOnLoad registerOnLoad;

}  // namespace
