// Registration of the ops and their CPU kernels with the TensorFlow that loads this library
// (library.cc calls both when the library is loaded).
#pragma once
#include "tensorflow/c/tf_status.h"

namespace tfjs_attention {
namespace tf {

void registerOps(TF_Status* status);
void registerCpuKernels(TF_Status* status);

}  // namespace tf
}  // namespace tfjs_attention
