// What the launchers ask of the device, read once per device: a process may drive several
// (TensorFlow places ops on any of its GPUs), and the launchers run on any host thread.
#pragma once
#include <cuda_runtime.h>
#include <mutex>

namespace attention {

constexpr int kMaxDevices = 64;

// The calling thread's current device, checked against kMaxDevices.
cudaError_t currentDevice(int* device);

// A value per device, computed by `compute(&value)` on the first use on each device (a failed
// computation is tried again on the next use).
template <class T>
class PerDevice {
 public:
  template <class Compute>
  cudaError_t get(T* value, Compute compute) {
    int device = 0;
    cudaError_t status = currentDevice(&device);
    if (status != cudaSuccess) return status;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!known_[device]) {
      status = compute(&values_[device]);
      if (status != cudaSuccess) return status;
      known_[device] = true;
    }
    *value = values_[device];
    return cudaSuccess;
  }

 private:
  std::mutex mutex_;
  bool known_[kMaxDevices] = {};
  T values_[kMaxDevices] = {};
};

// The device's multiprocessor count, for launches that size a resident wave of blocks.
cudaError_t multiprocessorCount(int* count);

// Raises `kernel`'s dynamic shared-memory limit to `bytes` on the current device, once.
template <auto kKernel>
cudaError_t allowSharedMemory(int bytes) {
  static PerDevice<bool> raised;
  bool done = false;
  return raised.get(&done, [bytes](bool* value) {
    *value = true;
    return cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  });
}

}  // namespace attention
