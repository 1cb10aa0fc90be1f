// Device memory for a call's intermediates (the block-diagonal starts, the Hopper forward's key
// and value tiles, the backward's row sums and rounded copies), taken from the caller: the addon
// takes it from its pool, TensorFlow's GPU kernels from TF_AllocateTemp. It must stay valid
// until the call's work on its stream is done.
#pragma once
#include <cstddef>

namespace attention {

class Scratch {
 public:
  // At least `bytes` of device memory, aligned to 256 bytes; `what` names it in errors. Throws
  // when none is left.
  virtual void* allocate(size_t bytes, const char* what) = 0;

 protected:
  ~Scratch() = default;
};

}  // namespace attention
