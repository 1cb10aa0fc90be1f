// Device buffers reused across calls: a call's buffers go back to the pool when it ends,
// so repeated calls of the same shapes allocate nothing and GPU memory stays flat.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

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
  T* get() const { return static_cast<T*>(ptr_); }

 private:
  size_t bytes_ = 0;
  void* ptr_ = nullptr;
};

}  // namespace attention
