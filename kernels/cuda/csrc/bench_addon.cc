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
  napi_value object;
  napi_create_object(env, &object);
  setProperty(env, object, "forwardMs", numberArray(env, times.forwardMs));
  setProperty(env, object, "backwardMs", numberArray(env, times.backwardMs));
  return object;
}

// copyTimes(bytes, iterations) → {hostToDeviceMs: number[], deviceToHostMs: number[]}, pageable
// host memory as the kernels' calls use: the floor of a whole call's copies.
napi_value copyTimes(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 2);
  double bytes = 0, iterations = 0;
  napi_get_value_double(env, args[0], &bytes);
  napi_get_value_double(env, args[1], &iterations);
  const CopyTimes times = timeCopies(size_t(bytes), int(iterations));
  napi_value object;
  napi_create_object(env, &object);
  setProperty(env, object, "hostToDeviceMs", numberArray(env, times.hostToDeviceMs));
  setProperty(env, object, "deviceToHostMs", numberArray(env, times.deviceToHostMs));
  return object;
}

// synchronizationTimes(spec, iterations) → {forwardQueuedMs, backwardQueuedMs: number,
// forwardSynchronizedMs, backwardSynchronizedMs: number[]} (benchmark.h).
napi_value synchronizationTimes(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 2);
  const CallSpec spec = readSpec(env, args[0]);
  double iterations = 0;
  napi_get_value_double(env, args[1], &iterations);
  const SynchronizationTimes times = timeSynchronization(spec, int(iterations));
  napi_value object;
  napi_create_object(env, &object);
  setProperty(env, object, "forwardQueuedMs", makeNumber(env, times.forwardQueuedMs));
  setProperty(env, object, "backwardQueuedMs", makeNumber(env, times.backwardQueuedMs));
  setProperty(env, object, "forwardSynchronizedMs", numberArray(env, times.forwardSynchronizedMs));
  setProperty(env, object, "backwardSynchronizedMs", numberArray(env, times.backwardSynchronizedMs));
  return object;
}

// The entry as TensorFlow's GPU kernels call it (kernels/tensorflow/gpu): outputs in fresh
// device buffers, a stream of the call's own, the device synchronized before and the stream
// after. Outputs and scratch are filled with NaN first, so that an element the call fails to
// write, or scratch it reads before writing, shows in the results.
constexpr int kPoison = 0xFF;  // every float 0xFFFFFFFF: a NaN

DeviceBuffer poisoned(size_t elements, const char* name, cudaStream_t stream) {
  DeviceBuffer buffer(elements * sizeof(float), name);
  if (elements > 0) {
    check(cudaMemsetAsync(buffer.get(), kPoison, elements * sizeof(float), stream), std::string("cudaMemsetAsync(") + name + ")");
  }
  return buffer;
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

// A stream of its own for one call, as TensorFlow's GPU kernels use one apart from TensorFlow's.
class CallStream {
 public:
  CallStream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
  ~CallStream() { cudaStreamDestroy(stream_); }
  CallStream(const CallStream&) = delete;
  CallStream& operator=(const CallStream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_;
};

// deviceForward(spec, query, key, value, bias | null, windowBias | null) → [output, logsumexp]
napi_value deviceForward(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 6);
  const CallSpec spec = readSpec(env, args[0]);
  const HostArray query = floatArray(env, args[1], "query", spec.queryElements());
  const HostArray key = floatArray(env, args[2], "key", spec.keyElements());
  const HostArray value = floatArray(env, args[3], "value", spec.valueElements());
  const HostArray bias = spec.hasBias ? floatArray(env, args[4], "bias", spec.biasElements) : HostArray{};
  const HostArray window = spec.hasWindowBias ? floatArray(env, args[5], "windowBias", spec.windowElements) : HostArray{};
  // The inputs as another stream (TensorFlow's) leaves them.
  cudaStream_t producer = poolStream();
  const DeviceBuffer q = upload(query, "query", producer), k = upload(key, "key", producer),
                     v = upload(value, "value", producer), b = upload(bias, "bias", producer),
                     w = upload(window, "windowBias", producer);
  const DeviceBuffer out = poisoned(spec.outputElements(), "output", producer),
                     lse = poisoned(spec.rowElements(), "logsumexp", producer);
  CallStream stream;
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  {
    PoisonedScratch scratch(stream.get());
    attentionForward(spec, {q.get(), k.get(), v.get(), b.get(), w.get(), out.get(), lse.get()}, scratch, stream.get());
    check(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize(forward)");
  }
  napi_value outArray = download(env, out.get(), spec.outputElements(), "output", producer);
  napi_value lseArray = download(env, lse.get(), spec.rowElements(), "logsumexp", producer);
  check(cudaStreamSynchronize(producer), "cudaStreamSynchronize(download)");
  return arrayOf(env, {outArray, lseArray});
}

// deviceBackward(spec, dy, query, key, value, output, logsumexp, bias | null, windowBias | null)
//   → [dQuery, dKey, dValue, dBias | null, dWindowBias | null]
napi_value deviceBackward(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 9);
  const CallSpec spec = readSpec(env, args[0]);
  const HostArray dy = floatArray(env, args[1], "dy", spec.outputElements());
  const HostArray query = floatArray(env, args[2], "query", spec.queryElements());
  const HostArray key = floatArray(env, args[3], "key", spec.keyElements());
  const HostArray value = floatArray(env, args[4], "value", spec.valueElements());
  const HostArray output = floatArray(env, args[5], "output", spec.outputElements());
  const HostArray logsumexp = floatArray(env, args[6], "logsumexp", spec.rowElements());
  const HostArray bias = spec.hasBias ? floatArray(env, args[7], "bias", spec.biasElements) : HostArray{};
  const HostArray window = spec.hasWindowBias ? floatArray(env, args[8], "windowBias", spec.windowElements) : HostArray{};
  cudaStream_t producer = poolStream();
  const DeviceBuffer dout = upload(dy, "dy", producer), q = upload(query, "query", producer),
                     k = upload(key, "key", producer), v = upload(value, "value", producer),
                     out = upload(output, "output", producer), lse = upload(logsumexp, "logsumexp", producer),
                     b = upload(bias, "bias", producer), w = upload(window, "windowBias", producer);
  const DeviceBuffer dq = poisoned(spec.queryElements(), "dQuery", producer),
                     dk = poisoned(spec.keyElements(), "dKey", producer),
                     dv = poisoned(spec.valueElements(), "dValue", producer),
                     db = poisoned(spec.biasElements, "dBias", producer),
                     dw = poisoned(spec.windowElements, "dWindowBias", producer);
  CallStream stream;
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  {
    PoisonedScratch scratch(stream.get());
    attentionBackward(spec,
                      {dout.get(), q.get(), k.get(), v.get(), out.get(), lse.get(), b.get(), w.get(), dq.get(),
                       dk.get(), dv.get(), db.get(), dw.get()},
                      scratch, stream.get());
    check(cudaStreamSynchronize(stream.get()), "cudaStreamSynchronize(backward)");
  }
  std::vector<napi_value> results = {
      download(env, dq.get(), spec.queryElements(), "dQuery", producer),
      download(env, dk.get(), spec.keyElements(), "dKey", producer),
      download(env, dv.get(), spec.valueElements(), "dValue", producer),
      spec.hasBias ? download(env, db.get(), spec.biasElements, "dBias", producer) : nullValue(env),
      spec.hasWindowBias ? download(env, dw.get(), spec.windowElements, "dWindowBias", producer) : nullValue(env),
  };
  check(cudaStreamSynchronize(producer), "cudaStreamSynchronize(download)");
  return arrayOf(env, results);
}

napi_value init(napi_env env, napi_value exports) {
  try {
    defineExports(env, exports,
                  {function<timeKernels>("timeKernels"), function<copyTimes>("copyTimes"),
                   function<synchronizationTimes>("synchronizationTimes"), function<deviceForward>("deviceForward"),
                   function<deviceBackward>("deviceBackward")});
  } catch (const JsError& e) {
    napi_throw_error(env, nullptr, ("tfjs-attention cuda: " + e.message).c_str());
  }
  return exports;
}

}  // namespace
}  // namespace attention

NAPI_MODULE(NODE_GYP_MODULE_NAME, attention::init)
