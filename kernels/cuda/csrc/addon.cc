// N-API bindings (one build serves every Node version): forward and backward calls on host
// Float32Arrays, device facts, memory readings and the kernel timer used by the benchmark.
#define NAPI_VERSION 8
#include <node_api.h>

#include <cstring>
#include <string>
#include <vector>
#include "attention_call.h"
#include "benchmark.h"
#include "cuda_check.h"
#include "launch.h"

namespace attention {
namespace {

// A JavaScript-facing failure with a message; thrown by the helpers below.
struct JsError {
  std::string message;
};

void napiCheck(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return;
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  throw JsError{std::string(what) + ": " + (info && info->error_message ? info->error_message : "N-API error")};
}

napi_value property(napi_env env, napi_value object, const char* name) {
  napi_value value;
  napi_status status = napi_get_named_property(env, object, name, &value);
  napiCheck(env, status, name);
  return value;
}

double number(napi_env env, napi_value object, const char* name) {
  double value = 0;
  if (napi_get_value_double(env, property(env, object, name), &value) != napi_ok) {
    throw JsError{std::string("spec.") + name + " must be a number"};
  }
  return value;
}

bool isNullish(napi_env env, napi_value value) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  return type == napi_null || type == napi_undefined;
}

std::vector<double> numbers(napi_env env, napi_value object, const char* name) {
  napi_value array = property(env, object, name);
  std::vector<double> out;
  if (isNullish(env, array)) return out;
  uint32_t length = 0;
  if (napi_get_array_length(env, array, &length) != napi_ok) throw JsError{std::string("spec.") + name + " must be an array"};
  for (uint32_t i = 0; i < length; ++i) {
    napi_value item;
    double v = 0;
    napiCheck(env, napi_get_element(env, array, i, &item), name);
    if (napi_get_value_double(env, item, &v) != napi_ok) throw JsError{std::string("spec.") + name + " must hold numbers"};
    out.push_back(v);
  }
  return out;
}

CallSpec readSpec(napi_env env, napi_value object) {
  CallSpec s;
  s.precision = Precision(int(number(env, object, "precision")));
  const std::vector<double> shape = numbers(env, object, "shape");
  if (shape.size() != 7) throw JsError{"spec.shape must be [B, Hq, Hkv, Sq, Sk, D, Dv]"};
  s.batch = int(shape[0]);
  s.headsQ = int(shape[1]);
  s.headsKV = int(shape[2]);
  s.seqQ = int(shape[3]);
  s.seqK = int(shape[4]);
  s.headDim = int(shape[5]);
  s.valueDim = int(shape[6]);
  if (s.headsKV <= 0 || s.headsQ % s.headsKV != 0) throw JsError{"spec.shape: Hq must be a multiple of Hkv"};
  if (std::max(s.headDim, s.valueDim) > kMaxHeadDim) {
    throw JsError{"head dims above " + std::to_string(kMaxHeadDim) + " are not supported, got " +
                  std::to_string(std::max(s.headDim, s.valueDim))};
  }
  s.scale = float(number(env, object, "scale"));
  s.causal = int(number(env, object, "causal"));
  s.dropoutRate = number(env, object, "dropoutRate");
  s.dropoutSeed = uint32_t(number(env, object, "dropoutSeed"));
  for (double v : numbers(env, object, "qSeqStarts")) s.qSeqStarts.push_back(int(v));
  for (double v : numbers(env, object, "kSeqStarts")) s.kSeqStarts.push_back(int(v));
  if (s.qSeqStarts.size() != s.kSeqStarts.size()) throw JsError{"spec: qSeqStarts and kSeqStarts differ in length"};
  const std::vector<double> bias = numbers(env, object, "biasStrides");
  if (!bias.empty()) {
    s.hasBias = true;
    for (int d = 0; d < 4; ++d) s.biasStride[d] = int64_t(bias[d]);
    s.biasElements = size_t(number(env, object, "biasElements"));
  }
  const std::vector<double> window = numbers(env, object, "windowStrides");
  if (!window.empty()) {
    s.hasWindowBias = true;
    for (int d = 0; d < 4; ++d) s.windowStride[d] = int64_t(window[d]);
    s.numWindows = int(number(env, object, "numWindows"));
    s.windowElements = size_t(number(env, object, "windowElements"));
  }
  return s;
}

struct HostArray {
  float* data = nullptr;
  size_t length = 0;
};

HostArray floatArray(napi_env env, napi_value value, const char* name, size_t expected) {
  bool isTyped = false;
  napi_is_typedarray(env, value, &isTyped);
  if (!isTyped) throw JsError{std::string(name) + " must be a Float32Array"};
  napi_typedarray_type type;
  size_t length;
  void* data;
  napiCheck(env, napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr), name);
  if (type != napi_float32_array) throw JsError{std::string(name) + " must be a Float32Array"};
  if (length != expected) {
    throw JsError{std::string(name) + " has " + std::to_string(length) + " elements, expected " + std::to_string(expected)};
  }
  return {static_cast<float*>(data), length};
}

// Copies a host array to a fresh pooled device buffer.
DeviceBuffer upload(const HostArray& host, const char* name, cudaStream_t stream) {
  DeviceBuffer buffer(host.length * sizeof(float), name);
  if (host.length == 0) return buffer;
  check(cudaMemcpyAsync(buffer.get(), host.data, host.length * sizeof(float), cudaMemcpyHostToDevice, stream),
        std::string("cudaMemcpyAsync(") + name + ")");
  return buffer;
}

// A new Float32Array with `length` elements copied from the device.
napi_value download(napi_env env, const DeviceBuffer& buffer, size_t length, const char* name, cudaStream_t stream) {
  void* data = nullptr;
  napi_value arrayBuffer, array;
  napiCheck(env, napi_create_arraybuffer(env, length * sizeof(float), &data, &arrayBuffer), name);
  if (length > 0) check(cudaMemcpyAsync(data, buffer.get(), length * sizeof(float), cudaMemcpyDeviceToHost, stream),
        std::string("cudaMemcpyAsync(") + name + ")");
  napiCheck(env, napi_create_typedarray(env, napi_float32_array, length, arrayBuffer, 0, &array), name);
  return array;
}

napi_value arrayOf(napi_env env, const std::vector<napi_value>& items) {
  napi_value array;
  napi_create_array_with_length(env, items.size(), &array);
  for (size_t i = 0; i < items.size(); ++i) napi_set_element(env, array, uint32_t(i), items[i]);
  return array;
}

std::vector<napi_value> arguments(napi_env env, napi_callback_info info, size_t count) {
  std::vector<napi_value> args(count);
  size_t given = count;
  napiCheck(env, napi_get_cb_info(env, info, &given, args.data(), nullptr, nullptr), "arguments");
  if (given < count) throw JsError{"expected " + std::to_string(count) + " arguments, got " + std::to_string(given)};
  return args;
}

void synchronize(cudaStream_t stream, const char* what) {
  check(cudaStreamSynchronize(stream), std::string("cudaStreamSynchronize(") + what + ")");
}

// forward(spec, query, key, value, bias | null, windowBias | null) → [output, logsumexp]
napi_value forward(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 6);
  const CallSpec spec = readSpec(env, args[0]);
  cudaStream_t stream = attentionStream();
  DeviceBuffer starts;
  AttentionParams p = paramsFor(spec, starts, stream);
  DeviceBuffer q = upload(floatArray(env, args[1], "query", spec.queryElements()), "query", stream);
  DeviceBuffer k = upload(floatArray(env, args[2], "key", spec.keyElements()), "key", stream);
  DeviceBuffer v = upload(floatArray(env, args[3], "value", spec.valueElements()), "value", stream);
  DeviceBuffer bias, window;
  if (spec.hasBias) bias = upload(floatArray(env, args[4], "bias", spec.biasElements), "bias", stream);
  if (spec.hasWindowBias) window = upload(floatArray(env, args[5], "windowBias", spec.windowElements), "windowBias", stream);
  DeviceBuffer out(spec.outputElements() * sizeof(float), "output");
  DeviceBuffer lse(spec.rowElements() * sizeof(float), "logsumexp");
  p.q = q.get();
  p.k = k.get();
  p.v = v.get();
  p.bias = bias.get();
  p.windowBias = window.get();
  p.out = out.get();
  p.lse = lse.get();
  check(launchForward(p, spec.precision, stream), "forward kernel launch");
  napi_value outArray = download(env, out, spec.outputElements(), "output", stream);
  napi_value lseArray = download(env, lse, spec.rowElements(), "logsumexp", stream);
  synchronize(stream, "forward");
  return arrayOf(env, {outArray, lseArray});
}

// backward(spec, dy, query, key, value, output, logsumexp, bias | null, windowBias | null)
//   → [dQuery, dKey, dValue, dBias | null, dWindowBias | null]
napi_value backward(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 9);
  const CallSpec spec = readSpec(env, args[0]);
  cudaStream_t stream = attentionStream();
  DeviceBuffer starts;
  AttentionParams p = paramsFor(spec, starts, stream);
  DeviceBuffer dy = upload(floatArray(env, args[1], "dy", spec.outputElements()), "dy", stream);
  DeviceBuffer q = upload(floatArray(env, args[2], "query", spec.queryElements()), "query", stream);
  DeviceBuffer k = upload(floatArray(env, args[3], "key", spec.keyElements()), "key", stream);
  DeviceBuffer v = upload(floatArray(env, args[4], "value", spec.valueElements()), "value", stream);
  DeviceBuffer out = upload(floatArray(env, args[5], "output", spec.outputElements()), "output", stream);
  DeviceBuffer lse = upload(floatArray(env, args[6], "logsumexp", spec.rowElements()), "logsumexp", stream);
  DeviceBuffer bias, window, dbias, dwindow;
  if (spec.hasBias) {
    bias = upload(floatArray(env, args[7], "bias", spec.biasElements), "bias", stream);
    dbias = DeviceBuffer(spec.biasElements * sizeof(float), "dBias");
    check(cudaMemsetAsync(dbias.get(), 0, spec.biasElements * sizeof(float), stream), "cudaMemsetAsync(dBias)");
  }
  if (spec.hasWindowBias) {
    window = upload(floatArray(env, args[8], "windowBias", spec.windowElements), "windowBias", stream);
    dwindow = DeviceBuffer(spec.windowElements * sizeof(float), "dWindowBias");
    check(cudaMemsetAsync(dwindow.get(), 0, spec.windowElements * sizeof(float), stream), "cudaMemsetAsync(dWindowBias)");
  }
  DeviceBuffer dq(spec.queryElements() * sizeof(float), "dQuery");
  DeviceBuffer dk(spec.keyElements() * sizeof(float), "dKey");
  DeviceBuffer dv(spec.valueElements() * sizeof(float), "dValue");
  DeviceBuffer delta(spec.rowElements() * sizeof(float), "delta");
  p.dout = dy.get();
  p.q = q.get();
  p.k = k.get();
  p.v = v.get();
  p.out = out.get();
  p.lse = lse.get();
  p.bias = bias.get();
  p.windowBias = window.get();
  p.dq = dq.get();
  p.dk = dk.get();
  p.dv = dv.get();
  p.dbias = dbias.get();
  p.dwindowBias = dwindow.get();
  p.delta = delta.get();
  check(launchBackward(p, spec.precision, stream), "backward kernel launch");
  napi_value null;
  napi_get_null(env, &null);
  std::vector<napi_value> results = {
      download(env, dq, spec.queryElements(), "dQuery", stream),
      download(env, dk, spec.keyElements(), "dKey", stream),
      download(env, dv, spec.valueElements(), "dValue", stream),
      spec.hasBias ? download(env, dbias, spec.biasElements, "dBias", stream) : null,
      spec.hasWindowBias ? download(env, dwindow, spec.windowElements, "dWindowBias", stream) : null,
  };
  synchronize(stream, "backward");
  return arrayOf(env, results);
}

napi_value makeNumber(napi_env env, double v) {
  napi_value value;
  napi_create_double(env, v, &value);
  return value;
}

// A JavaScript array of the timings' numbers.
napi_value numberArray(napi_env env, const std::vector<float>& values) {
  std::vector<napi_value> items;
  for (float v : values) items.push_back(makeNumber(env, v));
  return arrayOf(env, items);
}

napi_value makeString(napi_env env, const std::string& s) {
  napi_value value;
  napi_create_string_utf8(env, s.c_str(), s.size(), &value);
  return value;
}

void setProperty(napi_env env, napi_value object, const char* name, napi_value value) {
  napiCheck(env, napi_set_named_property(env, object, name, value), name);
}

// device() → {name, computeCapability, multiprocessors, totalBytes}; throws when none.
napi_value device(napi_env env, napi_callback_info) {
  int count = 0;
  check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  if (count == 0) throw CudaError("cudaGetDeviceCount: no CUDA device");
  int id = 0;
  check(cudaGetDevice(&id), "cudaGetDevice");
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, id), "cudaGetDeviceProperties");
  napi_value object;
  napi_create_object(env, &object);
  setProperty(env, object, "name", makeString(env, prop.name));
  setProperty(env, object, "computeCapability", makeString(env, std::to_string(prop.major) + "." + std::to_string(prop.minor)));
  setProperty(env, object, "multiprocessors", makeNumber(env, prop.multiProcessorCount));
  setProperty(env, object, "totalBytes", makeNumber(env, double(prop.totalGlobalMem)));
  return object;
}

// memory() → {freeBytes, totalBytes, pooledBytes}
napi_value memory(napi_env env, napi_callback_info) {
  size_t freeBytes = 0, totalBytes = 0;
  check(cudaMemGetInfo(&freeBytes, &totalBytes), "cudaMemGetInfo");
  napi_value object;
  napi_create_object(env, &object);
  setProperty(env, object, "freeBytes", makeNumber(env, double(freeBytes)));
  setProperty(env, object, "totalBytes", makeNumber(env, double(totalBytes)));
  setProperty(env, object, "pooledBytes", makeNumber(env, double(devicePool().cachedBytes())));
  return object;
}

// releasePool() frees the pool's cached buffers.
napi_value releasePool(napi_env env, napi_callback_info) {
  check(cudaStreamSynchronize(attentionStream()), "cudaStreamSynchronize(releasePool)");
  devicePool().trim();
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

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

// Runs `body`, turning C++ failures into JavaScript Errors.
template <napi_value (*Body)(napi_env, napi_callback_info)>
napi_value guarded(napi_env env, napi_callback_info info) {
  try {
    return Body(env, info);
  } catch (const JsError& e) {
    napi_throw_error(env, nullptr, ("tfjs-attention cuda: " + e.message).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, ("tfjs-attention cuda: " + std::string(e.what())).c_str());
  }
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"forward", nullptr, guarded<forward>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"backward", nullptr, guarded<backward>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"device", nullptr, guarded<device>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"memory", nullptr, guarded<memory>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"releasePool", nullptr, guarded<releasePool>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"timeKernels", nullptr, guarded<timeKernels>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"copyTimes", nullptr, guarded<copyTimes>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
  return exports;
}

}  // namespace
}  // namespace attention

NAPI_MODULE(NODE_GYP_MODULE_NAME, attention::init)
