// What the addon and the bench build share of Node-API: reading a call's spec and arrays,
// building results, and the functions both export (device, memory, releasePool, maxHeadDim).
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>
#include "attention_call.h"
#include "cuda_check.h"
#include "device_pool.h"

namespace attention {

// A JavaScript-facing failure with a message.
struct JsError {
  std::string message;
};

void napiCheck(napi_env env, napi_status status, const char* what);
napi_value property(napi_env env, napi_value object, const char* name);
double number(napi_env env, napi_value object, const char* name);
std::vector<napi_value> arguments(napi_env env, napi_callback_info info, size_t count);

// The spec object of addon.ts's NativeSpec, checked (checkSpec).
CallSpec readSpec(napi_env env, napi_value object);

struct HostArray {
  float* data = nullptr;
  size_t length = 0;
};

// A Float32Array of `expected` elements, else a JsError naming it.
HostArray floatArray(napi_env env, napi_value value, const char* name, size_t expected);

// Copies a host array to a fresh pooled device buffer, on `stream`.
DeviceBuffer upload(const HostArray& host, const char* name, cudaStream_t stream);

// A new Float32Array with `length` elements copied from the device, on `stream` (read it
// after synchronizing the stream).
napi_value download(napi_env env, const float* device, size_t length, const char* name, cudaStream_t stream);

// A forward call's arrays, forward(spec, query, key, value, bias | null, windowBias | null):
// checked against the spec, then uploaded to pooled device buffers on `stream`, with pooled
// buffers for the outputs. tensors() is the entry's view of them.
struct ForwardBuffers {
  static constexpr size_t kArguments = 6;
  static constexpr const char* kCall = "forward";

  ForwardBuffers(napi_env env, const std::vector<napi_value>& args, const CallSpec& spec, cudaStream_t stream);
  ForwardTensors tensors() const;
  // [output, logsumexp], copied on `stream`.
  napi_value results(napi_env env, const CallSpec& spec, cudaStream_t stream) const;

  DeviceBuffer query, key, value, bias, windowBias, output, logsumexp;
};

// A backward call's arrays, backward(spec, dy, query, key, value, output, logsumexp, bias | null,
// windowBias | null), as ForwardBuffers.
struct BackwardBuffers {
  static constexpr size_t kArguments = 9;
  static constexpr const char* kCall = "backward";

  BackwardBuffers(napi_env env, const std::vector<napi_value>& args, const CallSpec& spec, cudaStream_t stream);
  BackwardTensors tensors() const;
  // [dQuery, dKey, dValue, dBias | null, dWindowBias | null], copied on `stream`.
  napi_value results(napi_env env, const CallSpec& spec, cudaStream_t stream) const;

  DeviceBuffer dy, query, key, value, output, logsumexp, bias, windowBias, dQuery, dKey, dValue, dBias, dWindowBias;
};

napi_value arrayOf(napi_env env, const std::vector<napi_value>& items);
napi_value makeNumber(napi_env env, double v);
napi_value numberArray(napi_env env, const std::vector<float>& values);
napi_value nullValue(napi_env env);
void setProperty(napi_env env, napi_value object, const char* name, napi_value value);
// A new object with `properties` (name, value), in order.
napi_value objectOf(napi_env env, const std::vector<std::pair<const char*, napi_value>>& properties);

// A call on host arrays (Buffers: ForwardBuffers or BackwardBuffers): reads the spec and the
// arrays, uploads them on the pool's stream, has `run(spec, buffers, stream)` queue the work
// there and returns the results, copied once the stream is synchronized.
template <class Buffers, class Run>
napi_value hostArrayCall(napi_env env, napi_callback_info info, Run run) {
  const auto args = arguments(env, info, Buffers::kArguments);
  const CallSpec spec = readSpec(env, args[0]);
  const cudaStream_t stream = poolStream();
  const Buffers buffers(env, args, spec, stream);
  run(spec, buffers, stream);
  napi_value results = buffers.results(env, spec, stream);
  check(cudaStreamSynchronize(stream), std::string("cudaStreamSynchronize(") + Buffers::kCall + ")");
  return results;
}

// Exported by both builds.
napi_value device(napi_env env, napi_callback_info info);
napi_value memory(napi_env env, napi_callback_info info);
napi_value releasePool(napi_env env, napi_callback_info info);

// Runs `Body`, turning C++ failures into JavaScript Errors.
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

template <napi_value (*Body)(napi_env, napi_callback_info)>
napi_property_descriptor function(const char* name) {
  return {name, nullptr, guarded<Body>, nullptr, nullptr, nullptr, napi_enumerable, nullptr};
}

// Defines on `exports` what both builds share: device, memory, releasePool and maxHeadDim
// (kMaxHeadDim, for the TypeScript side's declaration), followed by `more`; returns `exports`,
// or throws a JavaScript Error where that fails (the module's init function).
napi_value defineExports(napi_env env, napi_value exports, const std::vector<napi_property_descriptor>& more);

}  // namespace attention
