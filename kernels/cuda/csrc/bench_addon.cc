// N-API bindings of the bench build (build/Bench; not shipped): the shipped addon's device,
// memory, releasePool and maxHeadDim, the benchmark's timers, and the device-pointer entry
// run as TensorFlow's GPU kernels run it, for test/cuda/device_entry.spec.ts.
#include <cstdint>
#include "attention_call.h"
#include "benchmark.h"
#include "cuda_check.h"
#include "device_pool.h"
#include "napi_util.h"

namespace attention {
namespace {

// timeKernels(spec, {iterations, warmup, backward}) → {forwardMs: number[], backwardMs: number[]}
// on fresh random device data (the benchmark's kernel time, no host copies).
napi_value timeKernels(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 2);
  const CallSpec spec = readSpec(env, args[0]);
  TimingOptions options;
  options.iterations = int(number(env, args[1], "iterations"));
  options.warmup = int(number(env, args[1], "warmup"));
  bool withBackward = false;
  napi_get_value_bool(env, property(env, args[1], "backward"), &withBackward);
  options.backward = withBackward;
  const KernelTimes times = timeAttention(spec, options);
  return objectOf(
      env, {{"forwardMs", numberArray(env, times.forwardMs)}, {"backwardMs", numberArray(env, times.backwardMs)}});
}

// copyTimes(bytes, iterations) → {hostToDeviceMs: number[], deviceToHostMs: number[]}, pageable
// host memory as the kernels' calls use: the floor of a whole call's copies.
napi_value copyTimes(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 2);
  double bytes = 0, iterations = 0;
  napi_get_value_double(env, args[0], &bytes);
  napi_get_value_double(env, args[1], &iterations);
  const CopyTimes times = timeCopies(size_t(bytes), int(iterations));
  return objectOf(env, {{"hostToDeviceMs", numberArray(env, times.hostToDeviceMs)},
                        {"deviceToHostMs", numberArray(env, times.deviceToHostMs)}});
}

// synchronizationTimes(spec, iterations) → {forwardQueuedMs, backwardQueuedMs: number,
// forwardSynchronizedMs, backwardSynchronizedMs: number[]} (benchmark.h).
napi_value synchronizationTimes(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 2);
  const CallSpec spec = readSpec(env, args[0]);
  double iterations = 0;
  napi_get_value_double(env, args[1], &iterations);
  const SynchronizationTimes times = timeSynchronization(spec, int(iterations));
  return objectOf(env, {{"forwardQueuedMs", makeNumber(env, times.forwardQueuedMs)},
                        {"backwardQueuedMs", makeNumber(env, times.backwardQueuedMs)},
                        {"forwardSynchronizedMs", numberArray(env, times.forwardSynchronizedMs)},
                        {"backwardSynchronizedMs", numberArray(env, times.backwardSynchronizedMs)}});
}

// The entry as TensorFlow's GPU kernels call it (kernels/tensorflow/gpu): inputs that another
// stream wrote, a stream of the call's own, the device synchronized before and that stream after.
// Outputs and scratch are filled with NaN first, so that an element the call fails to write, or
// scratch it reads before writing, shows in the results.
constexpr int kPoison = 0xFF;  // every float 0xFFFFFFFF: a NaN

void poison(const DeviceBuffer& buffer, size_t bytes, const char* name, cudaStream_t stream) {
  if (bytes == 0) return;
  check(cudaMemsetAsync(buffer.get(), kPoison, bytes, stream), std::string("cudaMemsetAsync(") + name + ")");
}

class PoisonedScratch : public Scratch {
 public:
  explicit PoisonedScratch(cudaStream_t stream) : stream_(stream) {}
  void* allocate(size_t bytes, const char* what) override {
    void* data = pool_.allocate(bytes, what);
    if (bytes > 0) check(cudaMemsetAsync(data, kPoison, bytes, stream_), std::string("cudaMemsetAsync(") + what + ")");
    return data;
  }

 private:
  PoolScratch pool_;
  cudaStream_t stream_;
};

// Runs `call(scratch, stream)` on a stream of its own between the synchronizations.
template <class Call>
void asTensorFlowKernelsDo(Call call) {
  cudaStream_t stream;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  try {
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    PoisonedScratch scratch(stream);
    call(scratch, stream);
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  } catch (...) {
    cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
    throw;
  }
  cudaStreamDestroy(stream);
}

// deviceForward(spec, query, key, value, bias | null, windowBias | null) → [output, logsumexp]
napi_value deviceForward(napi_env env, napi_callback_info info) {
  return hostArrayCall<ForwardBuffers>(
      env, info, [](const CallSpec& spec, const ForwardBuffers& buffers, cudaStream_t producer) {
        poison(buffers.output, spec.outputElements() * sizeof(float), "output", producer);
        poison(buffers.logsumexp, spec.rowElements() * sizeof(float), "logsumexp", producer);
        asTensorFlowKernelsDo(
            [&](Scratch& scratch, cudaStream_t stream) { attentionForward(spec, buffers.tensors(), scratch, stream); });
      });
}

// deviceBackward(spec, dy, query, key, value, output, logsumexp, bias | null, windowBias | null)
//   → [dQuery, dKey, dValue, dBias | null, dWindowBias | null]
napi_value deviceBackward(napi_env env, napi_callback_info info) {
  return hostArrayCall<BackwardBuffers>(
      env, info, [](const CallSpec& spec, const BackwardBuffers& buffers, cudaStream_t producer) {
        poison(buffers.dQuery, spec.queryElements() * sizeof(float), "dQuery", producer);
        poison(buffers.dKey, spec.keyElements() * sizeof(float), "dKey", producer);
        poison(buffers.dValue, spec.valueElements() * sizeof(float), "dValue", producer);
        poison(buffers.dBias, spec.biasElements * sizeof(float), "dBias", producer);
        poison(buffers.dWindowBias, spec.windowElements * sizeof(float), "dWindowBias", producer);
        asTensorFlowKernelsDo([&](Scratch& scratch, cudaStream_t stream) {
          attentionBackward(spec, buffers.tensors(), scratch, stream);
        });
      });
}

napi_value init(napi_env env, napi_value exports) {
  return defineExports(env, exports,
                       {function<timeKernels>("timeKernels"), function<copyTimes>("copyTimes"),
                        function<synchronizationTimes>("synchronizationTimes"),
                        function<deviceForward>("deviceForward"), function<deviceBackward>("deviceBackward")});
}

}  // namespace
}  // namespace attention

NAPI_MODULE(NODE_GYP_MODULE_NAME, attention::init)
