#include "benchmark.h"

#include <cuda_runtime.h>
#include <cstdint>
#include "cuda_check.h"
#include "launch.h"

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

}  // namespace

KernelTimes timeAttention(const CallSpec& spec, const TimingOptions& options) {
  cudaStream_t stream = attentionStream();
  DeviceBuffer starts;
  AttentionParams p = paramsFor(spec, starts, stream);
  DeviceBuffer q(spec.queryElements() * 4, "query"), k(spec.keyElements() * 4, "key"),
      v(spec.valueElements() * 4, "value"), out(spec.outputElements() * 4, "output"),
      lse(spec.rowElements() * 4, "logsumexp"), dy(spec.outputElements() * 4, "dy"),
      dq(spec.queryElements() * 4, "dQuery"), dk(spec.keyElements() * 4, "dKey"), dv(spec.valueElements() * 4, "dValue"),
      delta(spec.rowElements() * 4, "delta"), bias(spec.biasElements * 4, "bias"),
      window(spec.windowElements * 4, "windowBias"), dbias(spec.biasElements * 4, "dBias"),
      dwindow(spec.windowElements * 4, "dWindowBias");
  p.q = q.get();
  p.k = k.get();
  p.v = v.get();
  p.out = out.get();
  p.lse = lse.get();
  p.dout = dy.get();
  p.dq = dq.get();
  p.dk = dk.get();
  p.dv = dv.get();
  p.delta = delta.get();
  if (spec.hasBias) {
    p.bias = bias.get();
    p.dbias = dbias.get();
  }
  if (spec.hasWindowBias) {
    p.windowBias = window.get();
    p.dwindowBias = dwindow.get();
  }
  KernelTimes times;
  Event start, stop;
  for (int it = 0; it < options.warmup + options.iterations; ++it) {
    const uint32_t seed = 0x1234567u * uint32_t(it + 1);
    fill(q, spec.queryElements(), seed ^ 1, stream);
    fill(k, spec.keyElements(), seed ^ 2, stream);
    fill(v, spec.valueElements(), seed ^ 3, stream);
    fill(dy, spec.outputElements(), seed ^ 4, stream);
    fill(bias, spec.biasElements, seed ^ 5, stream);
    fill(window, spec.windowElements, seed ^ 6, stream);
    start.record(stream);
    check(launchForward(p, spec.precision, stream), "forward kernel launch");
    stop.record(stream);
    const float forwardMs = stop.msSince(start);
    if (it >= options.warmup) times.forwardMs.push_back(forwardMs);
    if (!options.backward) continue;
    start.record(stream);
    if (p.dbias) check(cudaMemsetAsync(p.dbias, 0, spec.biasElements * 4, stream), "cudaMemsetAsync(dBias)");
    if (p.dwindowBias) check(cudaMemsetAsync(p.dwindowBias, 0, spec.windowElements * 4, stream), "cudaMemsetAsync(dWindowBias)");
    check(launchBackward(p, spec.precision, stream), "backward kernel launch");
    stop.record(stream);
    const float backwardMs = stop.msSince(start);
    if (it >= options.warmup) times.backwardMs.push_back(backwardMs);
  }
  return times;
}

CopyTimes timeCopies(size_t bytes, int iterations) {
  cudaStream_t stream = attentionStream();
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

}  // namespace attention
