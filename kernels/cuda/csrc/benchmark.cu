#include "benchmark.h"

#include <cuda_runtime.h>
#include <chrono>
#include <cstdint>
#include "cuda_check.h"
#include "device_pool.h"

namespace attention {
namespace {

__global__ void fillUniform(float* data, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t x = uint32_t(i) * 0x9e3779b9u ^ seed;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    data[i] = float(x) * (2.f / 4294967296.f) - 1.f;  // uniform in [-1, 1)
  }
}

void fill(const DeviceBuffer& buffer, size_t n, uint32_t seed, cudaStream_t stream) {
  if (n == 0) return;
  fillUniform<<<1024, 256, 0, stream>>>(buffer.get(), n, seed);
  check(cudaGetLastError(), "fillUniform launch");
}

class Event {
 public:
  Event() { check(cudaEventCreate(&event_), "cudaEventCreate"); }
  ~Event() { cudaEventDestroy(event_); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(cudaStream_t stream) { check(cudaEventRecord(event_, stream), "cudaEventRecord"); }
  float msSince(const Event& start) {
    check(cudaEventSynchronize(event_), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start.event_, event_), "cudaEventElapsedTime");
    return ms;
  }

 private:
  cudaEvent_t event_;
};

// Every device buffer of one forward + backward call of `spec`, pooled.
struct CallBuffers {
  explicit CallBuffers(const CallSpec& spec)
      : q(spec.queryElements() * 4, "query"), k(spec.keyElements() * 4, "key"), v(spec.valueElements() * 4, "value"),
        out(spec.outputElements() * 4, "output"), lse(spec.rowElements() * 4, "logsumexp"),
        dy(spec.outputElements() * 4, "dy"), dq(spec.queryElements() * 4, "dQuery"), dk(spec.keyElements() * 4, "dKey"),
        dv(spec.valueElements() * 4, "dValue"), bias(spec.biasElements * 4, "bias"),
        window(spec.windowElements * 4, "windowBias"), dbias(spec.biasElements * 4, "dBias"),
        dwindow(spec.windowElements * 4, "dWindowBias") {}

  void fillInputs(const CallSpec& spec, uint32_t seed, cudaStream_t stream) const {
    fill(q, spec.queryElements(), seed ^ 1, stream);
    fill(k, spec.keyElements(), seed ^ 2, stream);
    fill(v, spec.valueElements(), seed ^ 3, stream);
    fill(dy, spec.outputElements(), seed ^ 4, stream);
    fill(bias, spec.biasElements, seed ^ 5, stream);
    fill(window, spec.windowElements, seed ^ 6, stream);
  }
  ForwardTensors forward() const { return {q.get(), k.get(), v.get(), bias.get(), window.get(), out.get(), lse.get()}; }
  BackwardTensors backward() const {
    return {dy.get(),     q.get(),  k.get(),  v.get(),  out.get(),   lse.get(),    bias.get(),
            window.get(), dq.get(), dk.get(), dv.get(), dbias.get(), dwindow.get()};
  }

  DeviceBuffer q, k, v, out, lse, dy, dq, dk, dv, bias, window, dbias, dwindow;
};

float msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

KernelTimes timeAttention(const CallSpec& spec, const TimingOptions& options) {
  cudaStream_t stream = poolStream();
  const CallBuffers buffers(spec);
  KernelTimes times;
  Event start, stop;
  for (int it = 0; it < options.warmup + options.iterations; ++it) {
    buffers.fillInputs(spec, 0x1234567u * uint32_t(it + 1), stream);
    {
      PoolScratch scratch;
      start.record(stream);
      attentionForward(spec, buffers.forward(), scratch, stream);
      stop.record(stream);
    }
    const float forwardMs = stop.msSince(start);
    if (it >= options.warmup) times.forwardMs.push_back(forwardMs);
    if (!options.backward) continue;
    {
      PoolScratch scratch;
      start.record(stream);
      attentionBackward(spec, buffers.backward(), scratch, stream);
      stop.record(stream);
    }
    const float backwardMs = stop.msSince(start);
    if (it >= options.warmup) times.backwardMs.push_back(backwardMs);
  }
  return times;
}

CopyTimes timeCopies(size_t bytes, int iterations) {
  cudaStream_t stream = poolStream();
  std::vector<float> host(bytes / 4, 1.f);
  DeviceBuffer device(bytes, "copy buffer");
  CopyTimes times;
  Event start, stop;
  for (int it = 0; it < iterations + 1; ++it) {
    start.record(stream);
    check(cudaMemcpyAsync(device.get(), host.data(), bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync(H2D)");
    stop.record(stream);
    const float up = stop.msSince(start);
    start.record(stream);
    check(cudaMemcpyAsync(host.data(), device.get(), bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(D2H)");
    stop.record(stream);
    const float down = stop.msSince(start);
    if (it > 0) {
      times.hostToDeviceMs.push_back(up);
      times.deviceToHostMs.push_back(down);
    }
  }
  return times;
}

SynchronizationTimes timeSynchronization(const CallSpec& spec, int iterations) {
  cudaStream_t stream = poolStream();
  const CallBuffers buffers(spec);
  buffers.fillInputs(spec, 0x9e3779b9u, stream);
  const auto sync = [&] { check(cudaStreamSynchronize(stream), "cudaStreamSynchronize"); };
  SynchronizationTimes times;
  // Warm-up: module load, the kernels' first-use set-up, the pool's buffers.
  for (int it = 0; it < 3; ++it) {
    PoolScratch forwardScratch, backwardScratch;
    attentionForward(spec, buffers.forward(), forwardScratch, stream);
    attentionBackward(spec, buffers.backward(), backwardScratch, stream);
  }
  sync();
  for (const bool backward : {false, true}) {
    const auto call = [&](Scratch& scratch) {
      if (backward) {
        attentionBackward(spec, buffers.backward(), scratch, stream);
      } else {
        attentionForward(spec, buffers.forward(), scratch, stream);
      }
    };
    auto start = std::chrono::steady_clock::now();
    for (int it = 0; it < iterations; ++it) {
      PoolScratch scratch;
      call(scratch);
    }
    sync();
    (backward ? times.backwardQueuedMs : times.forwardQueuedMs) = msSince(start) / iterations;
    for (int it = 0; it < iterations; ++it) {
      start = std::chrono::steady_clock::now();
      check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      PoolScratch scratch;
      call(scratch);
      sync();
      (backward ? times.backwardSynchronizedMs : times.forwardSynchronizedMs).push_back(msSince(start));
    }
  }
  return times;
}

}  // namespace attention
