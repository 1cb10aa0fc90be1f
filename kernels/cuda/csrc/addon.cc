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
  const auto run = [](const CallSpec& spec, const ForwardBuffers& buffers, cudaStream_t stream) {
    PoolScratch scratch;
    attentionForward(spec, buffers.tensors(), scratch, stream);
  };
  return hostArrayCall<ForwardBuffers>(env, info, run);
}

// backward(spec, dy, query, key, value, output, logsumexp, bias | null, windowBias | null)
//   → [dQuery, dKey, dValue, dBias | null, dWindowBias | null]
napi_value backward(napi_env env, napi_callback_info info) {
  const auto run = [](const CallSpec& spec, const BackwardBuffers& buffers, cudaStream_t stream) {
    PoolScratch scratch;
    attentionBackward(spec, buffers.tensors(), scratch, stream);
  };
  return hostArrayCall<BackwardBuffers>(env, info, run);
}

napi_value init(napi_env env, napi_value exports) {
  return defineExports(env, exports, {function<forward>("forward"), function<backward>("backward")});
}

}  // namespace
}  // namespace attention

NAPI_MODULE(NODE_GYP_MODULE_NAME, attention::init)
