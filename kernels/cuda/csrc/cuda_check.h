// CUDA failures become C++ exceptions whose message names the call; the N-API layer turns
// them into JavaScript Errors.
#pragma once
#include <cuda_runtime.h>
#include <stdexcept>
#include <string>

namespace attention {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t status, const std::string& call) {
  if (status != cudaSuccess) {
    // Clears a sticky-free error so that the next call starts clean.
    cudaGetLastError();
    throw CudaError(call + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
  }
}

}  // namespace attention
