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
  const cudaStream_t stream = poolStream();
  const ForwardBuffers buffers(env, args, spec, stream);
  PoolScratch scratch;
  attentionForward(spec, buffers.tensors(), scratch, stream);
  napi_value results = buffers.results(env, spec, stream);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(forward)");
  return results;
}

// backward(spec, dy, query, key, value, output, logsumexp, bias | null, windowBias | null)
//   → [dQuery, dKey, dValue, dBias | null, dWindowBias | null]
napi_value backward(napi_env env, napi_callback_info info) {
  const auto args = arguments(env, info, 9);
  const CallSpec spec = readSpec(env, args[0]);
  const cudaStream_t stream = poolStream();
  const BackwardBuffers buffers(env, args, spec, stream);
  PoolScratch scratch;
  attentionBackward(spec, buffers.tensors(), scratch, stream);
  napi_value results = buffers.results(env, spec, stream);
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize(backward)");
  return results;
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
