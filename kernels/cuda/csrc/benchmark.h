// The bench build's measurements (not in the shipped addon): kernel times on device-resident
// random inputs with CUDA events around each call and new data before every iteration (so no
// iteration reuses a cache of the last), pageable copy times, and what synchronizing around
// each call costs (TensorFlow's GPU kernels do: kernels/tensorflow/gpu).
#pragma once
#include <cstddef>
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

// Host wall time per call: queued (calls back to back on one stream, one synchronize at the
// end; the total over the calls) and synchronized (cudaDeviceSynchronize before each call and
// cudaStreamSynchronize after it, as the TensorFlow GPU kernels do; one time per call).
struct SynchronizationTimes {
  float forwardQueuedMs = 0, backwardQueuedMs = 0;
  std::vector<float> forwardSynchronizedMs, backwardSynchronizedMs;
};

SynchronizationTimes timeSynchronization(const CallSpec& spec, int iterations);

}  // namespace attention
