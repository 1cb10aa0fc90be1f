// Kernel timing for the benchmark: device-resident random inputs, CUDA events around each
// launch, new data before every iteration (so no iteration reuses a cache of the last).
#pragma once
#include <vector>
#include "attention_call.h"

namespace attention {

struct TimingOptions {
  int iterations = 20;
  int warmup = 3;
  bool backward = false;
};

struct KernelTimes {
  std::vector<float> forwardMs;
  std::vector<float> backwardMs;  // dQ, dK, dV and bias gradients, zeroing and delta included
};

KernelTimes timeAttention(const CallSpec& spec, const TimingOptions& options);

struct CopyTimes {
  std::vector<float> hostToDeviceMs, deviceToHostMs;
};

CopyTimes timeCopies(size_t bytes, int iterations);

}  // namespace attention
