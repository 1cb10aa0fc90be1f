#include "device_pool.h"

#include <cuda_runtime.h>
#include "cuda_check.h"

namespace attention {

size_t DevicePool::roundUp(size_t bytes) {
  // Powers of two up to 1 MiB, then whole MiB: few distinct sizes, little waste.
  constexpr size_t kMiB = size_t(1) << 20;
  if (bytes >= kMiB) return (bytes + kMiB - 1) / kMiB * kMiB;
  size_t size = 256;
  while (size < bytes) size <<= 1;
  return size;
}

void* DevicePool::acquire(size_t bytes, const std::string& what) {
  auto& cached = free_[bytes];
  if (!cached.empty()) {
    void* ptr = cached.back();
    cached.pop_back();
    cachedBytes_ -= bytes;
    return ptr;
  }
  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status == cudaErrorMemoryAllocation && cachedBytes_ > 0) {
    cudaGetLastError();
    trim();
    status = cudaMalloc(&ptr, bytes);
  }
  check(status, "cudaMalloc(" + what + ", " + std::to_string(bytes) + " bytes)");
  return ptr;
}

void DevicePool::release(void* ptr, size_t bytes) {
  free_[bytes].push_back(ptr);
  cachedBytes_ += bytes;
}

void DevicePool::trim() {
  for (auto& [bytes, ptrs] : free_) {
    for (void* ptr : ptrs) cudaFree(ptr);
  }
  free_.clear();
  cachedBytes_ = 0;
}

DevicePool& devicePool() {
  static DevicePool pool;
  return pool;
}

cudaStream_t poolStream() {
  static cudaStream_t stream = [] {
    cudaStream_t s;
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return s;
  }();
  return stream;
}

}  // namespace attention
