// What the addon and the bench build share of Node-API: reading a call's spec and arrays,
// building results, and the functions both export (device, memory, releasePool, maxHeadDim).
#pragma once
#define NAPI_VERSION 8
#include <node_api.h>

#include <exception>
#include <string>
#include <vector>
#include "attention_call.h"
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
  ForwardBuffers(napi_env env, const std::vector<napi_value>& args, const CallSpec& spec, cudaStream_t stream);
  ForwardTensors tensors() const;
  // [output, logsumexp], copied on `stream`.
  napi_value results(napi_env env, const CallSpec& spec, cudaStream_t stream) const;

  DeviceBuffer query, key, value, bias, windowBias, output, logsumexp;
};

// A backward call's arrays, backward(spec, dy, query, key, value, output, logsumexp, bias | null,
// windowBias | null), as ForwardBuffers.
struct BackwardBuffers {
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

// The exports both builds share: device, memory, releasePool and maxHeadDim (kMaxHeadDim,
// for the TypeScript side's declaration), followed by `more`.
void defineExports(napi_env env, napi_value exports, const std::vector<napi_property_descriptor>& more);

}  // namespace attention
