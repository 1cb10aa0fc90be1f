// N-API bindings of the shipped addon (one build serves every Node version): forward and
// backward calls on host Float32Arrays, through pooled device buffers and the device-pointer
// entry (attention_call.h), plus device facts, memory readings and maxHeadDim (napi_util.h).
#include "attention_call.h"
#include "cuda_check.h"
#include "device_pool.h"
#include "napi_util.h"

namespace attention {
namespace {

// forward(spec, query, key, value, bias | null, windowBias | null) → [output, logsumexp]
napi_value forward(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 6);
  const CallSpec spec = readSpec(env, args[0]);
  const HostArray query = floatArray(env, args[1], "query", spec.queryElements());
  const HostArray key = floatArray(env, args[2], "key", spec.keyElements());
  const HostArray value = floatArray(env, args[3], "value", spec.valueElements());
  const HostArray bias = spec.hasBias ? floatArray(env, args[4], "bias", spec.biasElements) : HostArray{};
  const HostArray window = spec.hasWindowBias ? floatArray(env, args[5], "windowBias", spec.windowElements) : HostArray{};
  cudaStream_t stream = poolStream();
  PoolScratch scratch;
  const DeviceBuffer q = upload(query, "query", stream), k = upload(key, "key", stream), v = upload(value, "value", stream),
                     b = upload(bias, "bias", stream), w = upload(window, "windowBias", stream);
  const DeviceBuffer out(spec.outputElements() * sizeof(float), "output");
  const DeviceBuffer lse(spec.rowElements() * sizeof(float), "logsumexp");
  attentionForward(spec, {q.get(), k.get(), v.get(), b.get(), w.get(), out.get(), lse.get()}, scratch, stream);
  napi_value outArray = download(env, out.get(), spec.outputElements(), "output", stream);
  napi_value lseArray = download(env, lse.get(), spec.rowElements(), "logsumexp", stream);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(forward)");
  return arrayOf(env, {outArray, lseArray});
}

// backward(spec, dy, query, key, value, output, logsumexp, bias | null, windowBias | null)
//   → [dQuery, dKey, dValue, dBias | null, dWindowBias | null]
napi_value backward(napi_env env, napi_callback_info info) {
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
  cudaStream_t stream = poolStream();
  PoolScratch scratch;
  const DeviceBuffer dout = upload(dy, "dy", stream), q = upload(query, "query", stream), k = upload(key, "key", stream),
                     v = upload(value, "value", stream), out = upload(output, "output", stream),
                     lse = upload(logsumexp, "logsumexp", stream), b = upload(bias, "bias", stream),
                     w = upload(window, "windowBias", stream);
  const DeviceBuffer dq(spec.queryElements() * sizeof(float), "dQuery"), dk(spec.keyElements() * sizeof(float), "dKey"),
      dv(spec.valueElements() * sizeof(float), "dValue"), db(spec.biasElements * sizeof(float), "dBias"),
      dw(spec.windowElements * sizeof(float), "dWindowBias");
  attentionBackward(spec,
                    {dout.get(), q.get(), k.get(), v.get(), out.get(), lse.get(), b.get(), w.get(), dq.get(), dk.get(),
                     dv.get(), db.get(), dw.get()},
                    scratch, stream);
  std::vector<napi_value> results = {
      download(env, dq.get(), spec.queryElements(), "dQuery", stream),
      download(env, dk.get(), spec.keyElements(), "dKey", stream),
      download(env, dv.get(), spec.valueElements(), "dValue", stream),
      spec.hasBias ? download(env, db.get(), spec.biasElements, "dBias", stream) : nullValue(env),
      spec.hasWindowBias ? download(env, dw.get(), spec.windowElements, "dWindowBias", stream) : nullValue(env),
  };
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(backward)");
  return arrayOf(env, results);
}

napi_value init(napi_env env, napi_value exports) {
  try {
    defineExports(env, exports, {function<forward>("forward"), function<backward>("backward")});
  } catch (const JsError& e) {
    napi_throw_error(env, nullptr, ("tfjs-attention cuda: " + e.message).c_str());
  }
  return exports;
}

}  // namespace
}  // namespace attention

NAPI_MODULE(NODE_GYP_MODULE_NAME, attention::init)
