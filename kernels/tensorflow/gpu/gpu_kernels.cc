// The ops' GPU kernels: the CUDA kernels of kernels/cuda/csrc on TensorFlow's device buffers,
// through the device-pointer entry (attention_call.h), with outputs from TF_AllocateOutput and
// scratch from TF_AllocateTemp. No host copies.
//
// Ordering: the C API gives a kernel no stream of TensorFlow's built-in GPU device (TF_GetStream
// serves pluggable devices only). So the kernel synchronizes the device before its work (the
// inputs, and the memory TensorFlow's allocator hands out, may still be in use by work queued on
// TensorFlow's streams), queues it on a stream of its own, and synchronizes that stream before
// returning (TensorFlow's later work on the outputs, and its reuse of the scratch, come after).
// benchmarks/cuda/NOTES.md has what this costs on an H200.
//
// Precision: 'tf32', as TensorFlow's own float32 matrix products use on Ampere and newer by
// default. Head dims above kMaxHeadDim have no GPU kernel: the call fails with UNIMPLEMENTED,
// and TfjsAttentionGpuMaxHeadDim() tells the TF.js side to take the composed path first.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "attention_call.h"
#include "attention_problem.h"
#include "cuda_check.h"
#include "device_info.h"
#include "kernel_heuristics.h"
#include "op_kernel.h"
#include "op_names.h"

namespace tfjs_attention {
namespace tf {
namespace {

// TensorFlow's failures inside a call, as exceptions until the call's end.
struct TfFailure {
  TF_Code code;
  std::string message;
};

void throwIfFailed(TF_Status* status, const std::string& what) {
  if (TF_GetCode(status) != TF_OK) throw TfFailure{TF_GetCode(status), what + ": " + TF_Message(status)};
}

std::vector<TensorPtr> getInputs(TF_OpKernelContext* ctx) {
  StatusPtr status = newStatus();
  std::vector<TensorPtr> inputs = tf::getInputs(ctx, status.get());
  throwIfFailed(status.get(), "TF_GetInput");
  return inputs;
}

TensorPtr allocateOutput(TF_OpKernelContext* ctx, int index, const Dims& dims) {
  StatusPtr status = newStatus();
  TensorPtr tensor = tf::allocateOutput(ctx, index, dims, status.get());
  throwIfFailed(status.get(), "TF_AllocateOutput(" + formatDims(dims) + ")");
  return tensor;
}

float* deviceData(const TensorPtr& tensor) { return static_cast<float*>(TF_TensorData(tensor.get())); }

// Scratch from TensorFlow's allocator (device memory, 256-byte aligned by its GPU allocator),
// handed back when the call ends, after its stream is synchronized.
class TfScratch : public attention::Scratch {
 public:
  explicit TfScratch(TF_OpKernelContext* ctx) : ctx_(ctx) {}
  void* allocate(size_t bytes, const char* what) override {
    StatusPtr status = newStatus();
    const int64_t dims[1] = {static_cast<int64_t>(bytes)};
    TF_AllocatorAttributes onDevice{TF_ALLOCATOR_ATTRIBUTES_STRUCT_SIZE, 0};
    temps_.emplace_back(TF_AllocateTemp(ctx_, TF_UINT8, dims, 1, &onDevice, status.get()), &TF_DeleteTensor);
    throwIfFailed(status.get(), std::string("TF_AllocateTemp(") + what + ", " + std::to_string(bytes) + " bytes)");
    return TF_TensorData(temps_.back().get());
  }

 private:
  TF_OpKernelContext* ctx_;
  std::vector<TensorPtr> temps_;
};

// The device holding the call's buffers made current for the call, the previous one restored after.
class DeviceScope {
 public:
  explicit DeviceScope(const void* data) {
    attention::check(cudaGetDevice(&previous_), "cudaGetDevice");
    cudaPointerAttributes attributes;
    attention::check(cudaPointerGetAttributes(&attributes, data), "cudaPointerGetAttributes");
    if (attributes.type != cudaMemoryTypeDevice) throw std::runtime_error("the tensors are not in device memory");
    attention::check(cudaSetDevice(attributes.device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

cudaStream_t kernelStream() {
  static attention::PerDevice<cudaStream_t> streams;
  cudaStream_t stream = nullptr;
  attention::check(
      streams.get(&stream, [](cudaStream_t* value) { return cudaStreamCreateWithFlags(value, cudaStreamNonBlocking); }),
      "cudaStreamCreateWithFlags");
  return stream;
}

// Runs `call(scratch, stream)` on the device of `anyData` (a device buffer of the call), ordered
// against TensorFlow's streams as the file's comment says.
template <class Call>
void onDevice(TF_OpKernelContext* ctx, const void* anyData, Call call) {
  DeviceScope device(anyData);
  attention::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const cudaStream_t stream = kernelStream();
  TfScratch scratch(ctx);
  try {
    call(scratch, stream);
  } catch (...) {
    cudaStreamSynchronize(stream);  // work already queued may still use the scratch
    throw;
  }
  attention::check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

// The entry's spec of a checked problem.
attention::CallSpec callSpec(const cpu::Problem& problem, const OpAttrs& attrs, const Dims& bias, const Dims& window) {
  attention::CallSpec spec;
  spec.precision = Precision::TF32;
  spec.batch = problem.batch;
  spec.headsQ = problem.headsQ;
  spec.headsKV = problem.headsKV;
  spec.seqQ = problem.seqQ;
  spec.seqK = problem.seqK;
  spec.headDim = problem.headDim;
  spec.valueDim = problem.valueDim;
  spec.scale = problem.scale;
  spec.causal = problem.causal;
  spec.dropoutRate = problem.dropoutRate;
  spec.dropoutSeed = problem.dropoutSeed;
  spec.qSeqStarts = problem.qSeqStarts;
  spec.kSeqStarts = problem.kSeqStarts;
  spec.hasBias = attrs.hasBias;
  spec.hasWindowBias = attrs.hasWindowBias;
  for (int d = 0; d < 4; ++d) {
    spec.biasStride[d] = problem.biasStride[d];
    spec.windowStride[d] = problem.windowStride[d];
  }
  spec.numWindows = problem.numWindows;
  spec.biasElements = attrs.hasBias ? size_t(elementCount(bias)) : 0;
  spec.windowElements = attrs.hasWindowBias ? size_t(elementCount(window)) : 0;
  return spec;
}

// Why the GPU kernels decline a valid call, or "".
std::string declined(const char* opName, const cpu::Problem& problem) {
  const int dim = std::max(problem.headDim, problem.valueDim);
  if (dim <= attention::kMaxHeadDim) return "";
  return std::string(opName) + ": head dim " + std::to_string(dim) + " is above the GPU kernels' " +
         std::to_string(attention::kMaxHeadDim) + " (TfjsAttentionGpuMaxHeadDim); run the composed ops instead";
}

// Runs a compute body, turning its failures into the kernel's.
template <class Body>
void guarded(TF_OpKernelContext* ctx, const char* opName, Body body) {
  try {
    body();
  } catch (const TfFailure& e) {
    fail(ctx, e.code, std::string(opName) + ": " + e.message);
  } catch (const std::invalid_argument& e) {
    fail(ctx, TF_INVALID_ARGUMENT, std::string(opName) + ": " + e.what());
  } catch (const std::exception& e) {
    fail(ctx, TF_INTERNAL, std::string(opName) + " (GPU): " + e.what());
  }
}

// Inputs: query, key, value, bias, window_bias. Outputs: output, logsumexp.
void computeForward(void* opaque, TF_OpKernelContext* ctx) {
  const OpKernel& kernel = *static_cast<OpKernel*>(opaque);
  guarded(ctx, kernel.opName, [&] {
    const std::vector<TensorPtr> in = getInputs(ctx);
    const Dims biasDims = dimsOf(in[3].get()), windowDims = dimsOf(in[4].get());
    cpu::Problem problem;
    std::string error = describeProblem(kernel.opName, kernel.attrs, dimsOf(in[0].get()), dimsOf(in[1].get()),
                                        dimsOf(in[2].get()), biasDims, windowDims, &problem);
    if (!error.empty()) return fail(ctx, TF_INVALID_ARGUMENT, error);
    error = declined(kernel.opName, problem);
    if (!error.empty()) return fail(ctx, TF_UNIMPLEMENTED, error);
    const attention::CallSpec spec = callSpec(problem, kernel.attrs, biasDims, windowDims);
    const TensorPtr out = allocateOutput(ctx, 0, {problem.batch, problem.headsQ, problem.seqQ, problem.valueDim});
    const TensorPtr logsumexp = allocateOutput(ctx, 1, {problem.batch, problem.headsQ, problem.seqQ});
    if (spec.rowElements() == 0) return;
    onDevice(ctx, deviceData(logsumexp), [&](attention::Scratch& scratch, cudaStream_t stream) {
      attention::attentionForward(spec,
                                  {deviceData(in[0]), deviceData(in[1]), deviceData(in[2]), deviceData(in[3]),
                                   deviceData(in[4]), deviceData(out), deviceData(logsumexp)},
                                  scratch, stream);
    });
  });
}

// Inputs: dy, query, key, value, output, logsumexp, bias, window_bias.
// Outputs: dquery, dkey, dvalue, dbias, dwindow_bias (each its input's shape; [0] where absent).
void computeGrad(void* opaque, TF_OpKernelContext* ctx) {
  const OpKernel& kernel = *static_cast<OpKernel*>(opaque);
  guarded(ctx, kernel.opName, [&] {
    const std::vector<TensorPtr> in = getInputs(ctx);
    const Dims biasDims = dimsOf(in[6].get()), windowDims = dimsOf(in[7].get());
    cpu::Problem problem;
    std::string error = describeGradProblem(kernel.opName, kernel.attrs, dimsOf(in[0].get()), dimsOf(in[1].get()),
                                            dimsOf(in[2].get()), dimsOf(in[3].get()), dimsOf(in[4].get()),
                                            dimsOf(in[5].get()), biasDims, windowDims, &problem);
    if (!error.empty()) return fail(ctx, TF_INVALID_ARGUMENT, error);
    error = declined(kernel.opName, problem);
    if (!error.empty()) return fail(ctx, TF_UNIMPLEMENTED, error);
    const attention::CallSpec spec = callSpec(problem, kernel.attrs, biasDims, windowDims);
    const TensorPtr dq = allocateOutput(ctx, 0, dimsOf(in[1].get()));
    const TensorPtr dk = allocateOutput(ctx, 1, dimsOf(in[2].get()));
    const TensorPtr dv = allocateOutput(ctx, 2, dimsOf(in[3].get()));
    const TensorPtr dbias = allocateOutput(ctx, 3, kernel.attrs.hasBias ? biasDims : Dims{0});
    const TensorPtr dwindow = allocateOutput(ctx, 4, kernel.attrs.hasWindowBias ? windowDims : Dims{0});
    const void* anyData = nullptr;
    for (const TensorPtr* t : {&dq, &dk, &dv, &dbias, &dwindow}) {
      if (anyData == nullptr && TF_TensorElementCount(t->get()) > 0) anyData = deviceData(*t);
    }
    if (anyData == nullptr) return;
    onDevice(ctx, anyData, [&](attention::Scratch& scratch, cudaStream_t stream) {
      attention::attentionBackward(
          spec,
          {deviceData(in[0]), deviceData(in[1]), deviceData(in[2]), deviceData(in[3]), deviceData(in[4]),
           deviceData(in[5]), deviceData(in[6]), deviceData(in[7]), deviceData(dq), deviceData(dk), deviceData(dv),
           deviceData(dbias), deviceData(dwindow)},
          scratch, stream);
    });
  });
}

void registerKernel(const char* opName, void* (*createFunc)(TF_OpKernelConstruction*),
                    void (*computeFunc)(void*, TF_OpKernelContext*), TF_Status* status) {
  TF_KernelBuilder* builder = TF_NewKernelBuilder(opName, "GPU", createFunc, computeFunc, &destroyOpKernel);
  TF_RegisterKernelBuilder((std::string(opName) + "Gpu").c_str(), builder, status);  // takes ownership
}

struct RegisterOnLoad {
  RegisterOnLoad() {
    StatusPtr status = newStatus();
    registerKernel(kForwardOp, &createOpKernel<&kForwardOp>, &computeForward, status.get());
    if (TF_GetCode(status.get()) == TF_OK)
      registerKernel(kGradOp, &createOpKernel<&kGradOp>, &computeGrad, status.get());
    // A static initializer cannot return an error; the ops then run on no GPU kernel.
    if (TF_GetCode(status.get()) != TF_OK) std::fprintf(stderr, "tfjs-attention: %s\n", TF_Message(status.get()));
  }
};

RegisterOnLoad registerOnLoad;

}  // namespace
}  // namespace tf
}  // namespace tfjs_attention

// The largest head dim (max of D and Dv) the GPU kernels take: above it, the TF.js side runs the
// composed ops (the kernels fail such calls with UNIMPLEMENTED).
extern "C" __attribute__((visibility("default"))) int TfjsAttentionGpuMaxHeadDim() { return attention::kMaxHeadDim; }
