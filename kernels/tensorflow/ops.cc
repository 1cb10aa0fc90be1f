// The op definitions, with shape functions for graph mode (eager execution, as tfjs-node
// runs the ops, does not call them).
#include "ops.h"

#include <memory>
#include <string>

#include "op_names.h"
#include "tensorflow/c/ops.h"

namespace tfjs_attention {
namespace tf {
namespace {

struct ShapeHandle {
  TF_ShapeHandle* handle = TF_NewShapeHandle();
  ~ShapeHandle() { TF_DeleteShapeHandle(handle); }
};

// output [B, Hq, Sq, Dv] = query[0:3] ++ value[3:4]; logsumexp [B, Hq, Sq] = query[0:3].
void forwardShapes(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  ShapeHandle query, value, rows, valueDim, output;
  TF_ShapeInferenceContextGetInput(ctx, 0, query.handle, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextGetInput(ctx, 2, value.handle, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSubshape(ctx, query.handle, 0, 3, rows.handle, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSubshape(ctx, value.handle, 3, 4, valueDim.handle, status);
  if (TF_GetCode(status) == TF_OK) {
    TF_ShapeInferenceContextConcatenateShapes(ctx, rows.handle, valueDim.handle, output.handle, status);
  }
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 0, output.handle, status);
  if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, 1, rows.handle, status);
}

// Each gradient has its input's shape: dquery..dwindow_bias from query..window_bias
// (inputs 1, 2, 3, 6, 7).
void gradShapes(TF_ShapeInferenceContext* ctx, TF_Status* status) {
  const int inputs[] = {1, 2, 3, 6, 7};
  for (int output = 0; output < 5 && TF_GetCode(status) == TF_OK; output++) {
    ShapeHandle shape;
    TF_ShapeInferenceContextGetInput(ctx, inputs[output], shape.handle, status);
    if (TF_GetCode(status) == TF_OK) TF_ShapeInferenceContextSetOutput(ctx, output, shape.handle, status);
  }
}

void registerOp(const char* name, std::initializer_list<const char*> inputs, std::initializer_list<const char*> outputs,
                void (*shapes)(TF_ShapeInferenceContext*, TF_Status*), TF_Status* status) {
  TF_OpDefinitionBuilder* builder = TF_NewOpDefinitionBuilder(name);
  for (const char* input : inputs) TF_OpDefinitionBuilderAddInput(builder, (std::string(input) + ": float").c_str());
  for (const char* output : outputs) {
    TF_OpDefinitionBuilderAddOutput(builder, (std::string(output) + ": float").c_str());
  }
  for (const char* attr : kOpAttrs) TF_OpDefinitionBuilderAddAttr(builder, attr);
  TF_OpDefinitionBuilderSetShapeInferenceFunction(builder, shapes);
  TF_RegisterOpDefinition(builder, status);  // takes ownership of the builder
}

}  // namespace

void registerOps(TF_Status* status) {
  // An absent bias is a float32 tensor of shape [0], with has_bias false.
  registerOp(kForwardOp, {"query", "key", "value", "bias", "window_bias"}, {"output", "logsumexp"}, forwardShapes,
             status);
  if (TF_GetCode(status) != TF_OK) return;
  registerOp(kGradOp, {"dy", "query", "key", "value", "output", "logsumexp", "bias", "window_bias"},
             {"dquery", "dkey", "dvalue", "dbias", "dwindow_bias"}, gradShapes, status);
}

}  // namespace tf
}  // namespace tfjs_attention
