// Device buffers reused across calls: a call's buffers go back to the pool when it ends,
// so repeated calls of the same shapes allocate nothing and GPU memory stays flat. Buffers
// are reused in the order of one stream, poolStream(), which every call using the pool runs
// on: a buffer released at a call's return is next written by work queued after that call's.
// For the addon's thread only (Node's main thread): the pool takes no lock.
#pragma once
#include <cuda_runtime.h>
#include <cstddef>
#include <map>
#include <string>
#include <vector>
#include "scratch.h"

namespace attention {

class DevicePool {
 public:
  // A buffer of at least `bytes`; `what` names it in errors.
  void* acquire(size_t bytes, const std::string& what);
  void release(void* ptr, size_t bytes);
  // Frees every cached buffer.
  void trim();
  size_t cachedBytes() const { return cachedBytes_; }

  static size_t roundUp(size_t bytes);

 private:
  std::map<size_t, std::vector<void*>> free_;
  size_t cachedBytes_ = 0;
};

DevicePool& devicePool();

cudaStream_t poolStream();

// A pooled buffer for the length of a call.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(size_t bytes, const std::string& what)
      : bytes_(DevicePool::roundUp(bytes)), ptr_(bytes ? devicePool().acquire(bytes_, what) : nullptr) {}
  ~DeviceBuffer() {
    if (ptr_) devicePool().release(ptr_, bytes_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : bytes_(other.bytes_), ptr_(other.ptr_) { other.ptr_ = nullptr; }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      if (ptr_) devicePool().release(ptr_, bytes_);
      bytes_ = other.bytes_;
      ptr_ = other.ptr_;
      other.ptr_ = nullptr;
    }
    return *this;
  }

  template <class T = float>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  size_t bytes_ = 0;
  void* ptr_ = nullptr;
};

// A call's scratch from the pool, released with this object.
class PoolScratch : public Scratch {
 public:
  void* allocate(size_t bytes, const char* what) override {
    buffers_.emplace_back(bytes, what);
    return buffers_.back().get<void>();
  }

 private:
  std::vector<DeviceBuffer> buffers_;
};

}  // namespace attention
