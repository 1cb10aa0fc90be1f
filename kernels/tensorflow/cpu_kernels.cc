// The ops' CPU kernels: check the call, allocate the outputs from TensorFlow, and run the
// fused compute core (cpu/attention_cpu.h) on TensorFlow's own buffers.
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "attention_problem.h"
#include "op_kernel.h"
#include "op_names.h"
#include "ops.h"

namespace tfjs_attention {
namespace tf {
namespace {

// The C API gives kernels no intra-op thread count: 0 lets the core use its documented
// setting, TFJS_ATTENTION_THREADS (default: the hardware's concurrency).
constexpr int kCoreThreads = 0;

/** The call's inputs; empty when fetching one failed (the context then has the failure). */
std::vector<TensorPtr> getInputs(TF_OpKernelContext* ctx) {
  StatusPtr status = newStatus();
  std::vector<TensorPtr> inputs = tf::getInputs(ctx, status.get());
  if (TF_GetCode(status.get()) != TF_OK) TF_OpKernelContext_Failure(ctx, status.get());
  return inputs;
}

/** Allocates output `index`; null with the failure set on the context when TensorFlow cannot. */
TensorPtr allocateOutput(TF_OpKernelContext* ctx, int index, const Dims& dims) {
  StatusPtr status = newStatus();
  TensorPtr tensor = tf::allocateOutput(ctx, index, dims, status.get());
  if (TF_GetCode(status.get()) != TF_OK) TF_OpKernelContext_Failure(ctx, status.get());
  return tensor;
}

const float* data(const TensorPtr& tensor) { return static_cast<const float*>(TF_TensorData(tensor.get())); }

float* mutableData(const TensorPtr& tensor) { return static_cast<float*>(TF_TensorData(tensor.get())); }

/** Runs the core, turning its exceptions into the kernel's failure. */
template <typename Run>
void runCore(TF_OpKernelContext* ctx, const char* opName, Run run) {
  try {
    run();
  } catch (const std::bad_alloc&) {
    fail(ctx, TF_RESOURCE_EXHAUSTED, std::string(opName) + ": out of memory for the kernel's scratch buffers");
  } catch (const std::exception& e) {
    fail(ctx, TF_INTERNAL, std::string(opName) + ": " + e.what());
  }
}

// Inputs: query, key, value, bias, window_bias. Outputs: output, logsumexp.
void computeForward(void* opaque, TF_OpKernelContext* ctx) {
  const OpKernel& kernel = *static_cast<OpKernel*>(opaque);
  const OpAttrs& attrs = kernel.attrs;
  std::vector<TensorPtr> in = getInputs(ctx);
  if (in.empty()) return;
  cpu::Problem problem;
  const std::string error = describeProblem(kernel.opName, attrs, dimsOf(in[0].get()), dimsOf(in[1].get()),
                                            dimsOf(in[2].get()), dimsOf(in[3].get()), dimsOf(in[4].get()), &problem);
  if (!error.empty()) return fail(ctx, TF_INVALID_ARGUMENT, error);
  const Dims rows = {problem.batch, problem.headsQ, problem.seqQ};
  TensorPtr out = allocateOutput(ctx, 0, {problem.batch, problem.headsQ, problem.seqQ, problem.valueDim});
  if (out == nullptr) return;
  TensorPtr logsumexp = allocateOutput(ctx, 1, rows);
  if (logsumexp == nullptr) return;
  if (elementCount(rows) == 0) return;
  problem.bias = attrs.hasBias ? data(in[3]) : nullptr;
  problem.windowBias = attrs.hasWindowBias ? data(in[4]) : nullptr;
  const cpu::ForwardTensors tensors{data(in[0]), data(in[1]), data(in[2]), mutableData(out), mutableData(logsumexp)};
  runCore(ctx, kernel.opName, [&] { cpu::forward(problem, tensors, kCoreThreads); });
}

// Inputs: dy, query, key, value, output, logsumexp, bias, window_bias.
// Outputs: dquery, dkey, dvalue, dbias, dwindow_bias (each its input's shape; [0] where absent).
void computeGrad(void* opaque, TF_OpKernelContext* ctx) {
  const OpKernel& kernel = *static_cast<OpKernel*>(opaque);
  const OpAttrs& attrs = kernel.attrs;
  std::vector<TensorPtr> in = getInputs(ctx);
  if (in.empty()) return;
  cpu::Problem problem;
  const Dims biasDims = dimsOf(in[6].get()), windowDims = dimsOf(in[7].get());
  const std::string error = describeGradProblem(kernel.opName, attrs, dimsOf(in[0].get()), dimsOf(in[1].get()),
                                                dimsOf(in[2].get()), dimsOf(in[3].get()), dimsOf(in[4].get()),
                                                dimsOf(in[5].get()), biasDims, windowDims, &problem);
  if (!error.empty()) return fail(ctx, TF_INVALID_ARGUMENT, error);
  TensorPtr dq = allocateOutput(ctx, 0, dimsOf(in[1].get()));
  if (dq == nullptr) return;
  TensorPtr dk = allocateOutput(ctx, 1, dimsOf(in[2].get()));
  if (dk == nullptr) return;
  TensorPtr dv = allocateOutput(ctx, 2, dimsOf(in[3].get()));
  if (dv == nullptr) return;
  TensorPtr dbias = allocateOutput(ctx, 3, attrs.hasBias ? biasDims : Dims{0});
  if (dbias == nullptr) return;
  TensorPtr dwindow = allocateOutput(ctx, 4, attrs.hasWindowBias ? windowDims : Dims{0});
  if (dwindow == nullptr) return;
  problem.bias = attrs.hasBias ? data(in[6]) : nullptr;
  problem.windowBias = attrs.hasWindowBias ? data(in[7]) : nullptr;
  const cpu::BackwardTensors tensors{
      data(in[0]),
      data(in[1]),
      data(in[2]),
      data(in[3]),
      data(in[4]),
      data(in[5]),
      mutableData(dq),
      mutableData(dk),
      mutableData(dv),
      attrs.hasBias ? mutableData(dbias) : nullptr,
      attrs.hasBias ? elementCount(biasDims) : 0,
      attrs.hasWindowBias ? mutableData(dwindow) : nullptr,
      attrs.hasWindowBias ? elementCount(windowDims) : 0,
  };
  runCore(ctx, kernel.opName, [&] { cpu::backward(problem, tensors, kCoreThreads); });
}

void registerKernel(const char* opName, void* (*createFunc)(TF_OpKernelConstruction*),
                    void (*computeFunc)(void*, TF_OpKernelContext*), TF_Status* status) {
  TF_KernelBuilder* builder = TF_NewKernelBuilder(opName, "CPU", createFunc, computeFunc, &destroyOpKernel);
  TF_RegisterKernelBuilder((std::string(opName) + "Cpu").c_str(), builder, status);  // takes ownership
}

}  // namespace

void registerCpuKernels(TF_Status* status) {
  registerKernel(kForwardOp, &createOpKernel<&kForwardOp>, &computeForward, status);
  if (TF_GetCode(status) == TF_OK) registerKernel(kGradOp, &createOpKernel<&kGradOp>, &computeGrad, status);
}

}  // namespace tf
}  // namespace tfjs_attention
