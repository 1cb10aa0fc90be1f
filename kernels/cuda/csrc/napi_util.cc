#include "napi_util.h"

#include <algorithm>
#include <stdexcept>
#include "cuda_check.h"
#include "kernel_heuristics.h"

namespace attention {
namespace {

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
  if (napi_get_array_length(env, array, &length) != napi_ok)
    throw JsError{std::string("spec.") + name + " must be an array"};
  for (uint32_t i = 0; i < length; ++i) {
    napi_value item;
    double v = 0;
    napiCheck(env, napi_get_element(env, array, i, &item), name);
    if (napi_get_value_double(env, item, &v) != napi_ok)
      throw JsError{std::string("spec.") + name + " must hold numbers"};
    out.push_back(v);
  }
  return out;
}

napi_value makeString(napi_env env, const std::string& s) {
  napi_value value;
  napi_create_string_utf8(env, s.c_str(), s.size(), &value);
  return value;
}

}  // namespace

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

std::vector<napi_value> arguments(napi_env env, napi_callback_info info, size_t count) {
  std::vector<napi_value> args(count);
  size_t given = count;
  napiCheck(env, napi_get_cb_info(env, info, &given, args.data(), nullptr, nullptr), "arguments");
  if (given < count) throw JsError{"expected " + std::to_string(count) + " arguments, got " + std::to_string(given)};
  return args;
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
  s.scale = float(number(env, object, "scale"));
  s.causal = int(number(env, object, "causal"));
  s.dropoutRate = number(env, object, "dropoutRate");
  s.dropoutSeed = uint32_t(number(env, object, "dropoutSeed"));
  for (double v : numbers(env, object, "qSeqStarts")) s.qSeqStarts.push_back(int(v));
  for (double v : numbers(env, object, "kSeqStarts")) s.kSeqStarts.push_back(int(v));
  const std::vector<double> bias = numbers(env, object, "biasStrides");
  if (!bias.empty()) {
    if (bias.size() != 4) throw JsError{"spec.biasStrides must hold 4 strides"};
    s.hasBias = true;
    for (int d = 0; d < 4; ++d) s.biasStride[d] = int64_t(bias[d]);
    s.biasElements = size_t(number(env, object, "biasElements"));
  }
  const std::vector<double> window = numbers(env, object, "windowStrides");
  if (!window.empty()) {
    if (window.size() != 4) throw JsError{"spec.windowStrides must hold 4 strides"};
    s.hasWindowBias = true;
    for (int d = 0; d < 4; ++d) s.windowStride[d] = int64_t(window[d]);
    s.numWindows = int(number(env, object, "numWindows"));
    s.windowElements = size_t(number(env, object, "windowElements"));
  }
  try {
    checkSpec(s);
  } catch (const std::invalid_argument& e) {
    throw JsError{std::string("spec: ") + e.what()};
  }
  return s;
}

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
    throw JsError{std::string(name) + " has " + std::to_string(length) + " elements, expected " +
                  std::to_string(expected)};
  }
  return {static_cast<float*>(data), length};
}

DeviceBuffer upload(const HostArray& host, const char* name, cudaStream_t stream) {
  DeviceBuffer buffer(host.length * sizeof(float), name);
  if (host.length == 0) return buffer;
  check(cudaMemcpyAsync(buffer.get(), host.data, host.length * sizeof(float), cudaMemcpyHostToDevice, stream),
        std::string("cudaMemcpyAsync(") + name + ")");
  return buffer;
}

napi_value download(napi_env env, const float* device, size_t length, const char* name, cudaStream_t stream) {
  void* data = nullptr;
  napi_value arrayBuffer, array;
  napiCheck(env, napi_create_arraybuffer(env, length * sizeof(float), &data, &arrayBuffer), name);
  if (length > 0) {
    check(cudaMemcpyAsync(data, device, length * sizeof(float), cudaMemcpyDeviceToHost, stream),
          std::string("cudaMemcpyAsync(") + name + ")");
  }
  napiCheck(env, napi_create_typedarray(env, napi_float32_array, length, arrayBuffer, 0, &array), name);
  return array;
}

namespace {

DeviceBuffer floats(size_t elements, const char* name) { return DeviceBuffer(elements * sizeof(float), name); }

}  // namespace

// Every array is checked before the first upload: bad arguments allocate nothing.
ForwardBuffers::ForwardBuffers(napi_env env, const std::vector<napi_value>& args, const CallSpec& spec,
                               cudaStream_t stream) {
  const HostArray q = floatArray(env, args[1], "query", spec.queryElements());
  const HostArray k = floatArray(env, args[2], "key", spec.keyElements());
  const HostArray v = floatArray(env, args[3], "value", spec.valueElements());
  const HostArray b = spec.hasBias ? floatArray(env, args[4], "bias", spec.biasElements) : HostArray{};
  const HostArray w = spec.hasWindowBias ? floatArray(env, args[5], "windowBias", spec.windowElements) : HostArray{};
  query = upload(q, "query", stream);
  key = upload(k, "key", stream);
  value = upload(v, "value", stream);
  bias = upload(b, "bias", stream);
  windowBias = upload(w, "windowBias", stream);
  output = floats(spec.outputElements(), "output");
  logsumexp = floats(spec.rowElements(), "logsumexp");
}

ForwardTensors ForwardBuffers::tensors() const {
  return {query.get(), key.get(), value.get(), bias.get(), windowBias.get(), output.get(), logsumexp.get()};
}

napi_value ForwardBuffers::results(napi_env env, const CallSpec& spec, cudaStream_t stream) const {
  return arrayOf(env, {download(env, output.get(), spec.outputElements(), "output", stream),
                       download(env, logsumexp.get(), spec.rowElements(), "logsumexp", stream)});
}

BackwardBuffers::BackwardBuffers(napi_env env, const std::vector<napi_value>& args, const CallSpec& spec,
                                 cudaStream_t stream) {
  const HostArray d = floatArray(env, args[1], "dy", spec.outputElements());
  const HostArray q = floatArray(env, args[2], "query", spec.queryElements());
  const HostArray k = floatArray(env, args[3], "key", spec.keyElements());
  const HostArray v = floatArray(env, args[4], "value", spec.valueElements());
  const HostArray o = floatArray(env, args[5], "output", spec.outputElements());
  const HostArray l = floatArray(env, args[6], "logsumexp", spec.rowElements());
  const HostArray b = spec.hasBias ? floatArray(env, args[7], "bias", spec.biasElements) : HostArray{};
  const HostArray w = spec.hasWindowBias ? floatArray(env, args[8], "windowBias", spec.windowElements) : HostArray{};
  dy = upload(d, "dy", stream);
  query = upload(q, "query", stream);
  key = upload(k, "key", stream);
  value = upload(v, "value", stream);
  output = upload(o, "output", stream);
  logsumexp = upload(l, "logsumexp", stream);
  bias = upload(b, "bias", stream);
  windowBias = upload(w, "windowBias", stream);
  dQuery = floats(spec.queryElements(), "dQuery");
  dKey = floats(spec.keyElements(), "dKey");
  dValue = floats(spec.valueElements(), "dValue");
  dBias = floats(spec.biasElements, "dBias");
  dWindowBias = floats(spec.windowElements, "dWindowBias");
}

BackwardTensors BackwardBuffers::tensors() const {
  return {dy.get(),         query.get(),  key.get(),  value.get(),  output.get(), logsumexp.get(),  bias.get(),
          windowBias.get(), dQuery.get(), dKey.get(), dValue.get(), dBias.get(),  dWindowBias.get()};
}

napi_value BackwardBuffers::results(napi_env env, const CallSpec& spec, cudaStream_t stream) const {
  return arrayOf(env,
                 {
                     download(env, dQuery.get(), spec.queryElements(), "dQuery", stream),
                     download(env, dKey.get(), spec.keyElements(), "dKey", stream),
                     download(env, dValue.get(), spec.valueElements(), "dValue", stream),
                     spec.hasBias ? download(env, dBias.get(), spec.biasElements, "dBias", stream) : nullValue(env),
                     spec.hasWindowBias ? download(env, dWindowBias.get(), spec.windowElements, "dWindowBias", stream)
                                        : nullValue(env),
                 });
}

napi_value arrayOf(napi_env env, const std::vector<napi_value>& items) {
  napi_value array;
  napi_create_array_with_length(env, items.size(), &array);
  for (size_t i = 0; i < items.size(); ++i) napi_set_element(env, array, uint32_t(i), items[i]);
  return array;
}

napi_value makeNumber(napi_env env, double v) {
  napi_value value;
  napi_create_double(env, v, &value);
  return value;
}

napi_value numberArray(napi_env env, const std::vector<float>& values) {
  std::vector<napi_value> items;
  for (float v : values) items.push_back(makeNumber(env, v));
  return arrayOf(env, items);
}

napi_value nullValue(napi_env env) {
  napi_value null;
  napi_get_null(env, &null);
  return null;
}

void setProperty(napi_env env, napi_value object, const char* name, napi_value value) {
  napiCheck(env, napi_set_named_property(env, object, name, value), name);
}

napi_value objectOf(napi_env env, const std::vector<std::pair<const char*, napi_value>>& properties) {
  napi_value object;
  napiCheck(env, napi_create_object(env, &object), "napi_create_object");
  for (const auto& [name, value] : properties) setProperty(env, object, name, value);
  return object;
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
  return objectOf(
      env, {
               {"name", makeString(env, prop.name)},
               {"computeCapability", makeString(env, std::to_string(prop.major) + "." + std::to_string(prop.minor))},
               {"multiprocessors", makeNumber(env, prop.multiProcessorCount)},
               {"totalBytes", makeNumber(env, double(prop.totalGlobalMem))},
           });
}

// memory() → {freeBytes, totalBytes, pooledBytes}
napi_value memory(napi_env env, napi_callback_info) {
  size_t freeBytes = 0, totalBytes = 0;
  check(cudaMemGetInfo(&freeBytes, &totalBytes), "cudaMemGetInfo");
  return objectOf(env, {
                           {"freeBytes", makeNumber(env, double(freeBytes))},
                           {"totalBytes", makeNumber(env, double(totalBytes))},
                           {"pooledBytes", makeNumber(env, double(devicePool().cachedBytes()))},
                       });
}

// releasePool() frees the pool's cached buffers.
napi_value releasePool(napi_env env, napi_callback_info) {
  check(cudaStreamSynchronize(poolStream()), "cudaStreamSynchronize(releasePool)");
  devicePool().trim();
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

napi_value defineExports(napi_env env, napi_value exports, const std::vector<napi_property_descriptor>& more) {
  try {
    std::vector<napi_property_descriptor> all = {
        function<device>("device"),
        function<memory>("memory"),
        function<releasePool>("releasePool"),
        {"maxHeadDim", nullptr, nullptr, nullptr, nullptr, makeNumber(env, kMaxHeadDim), napi_enumerable, nullptr},
    };
    all.insert(all.end(), more.begin(), more.end());
    napiCheck(env, napi_define_properties(env, exports, all.size(), all.data()), "exports");
  } catch (const JsError& e) {
    napi_throw_error(env, nullptr, ("tfjs-attention cuda: " + e.message).c_str());
  }
  return exports;
}

}  // namespace attention
