#include "attention_problem.h"

#include <climits>
#include <cmath>
#include <memory>
#include <sstream>

namespace tfjs_attention {
namespace tf {
namespace {

using StatusPtr = std::unique_ptr<TF_Status, decltype(&TF_DeleteStatus)>;

StatusPtr newStatus() { return StatusPtr(TF_NewStatus(), &TF_DeleteStatus); }

void failConstruction(TF_OpKernelConstruction* ctx, const std::string& message) {
  StatusPtr status = newStatus();
  TF_SetStatus(status.get(), TF_INVALID_ARGUMENT, message.c_str());
  TF_OpKernelConstruction_Failure(ctx, status.get());
}

bool readIntList(TF_OpKernelConstruction* ctx, const char* name, std::vector<int64_t>* values, TF_Status* status) {
  int32_t listSize = 0, totalSize = 0;
  TF_OpKernelConstruction_GetAttrSize(ctx, name, &listSize, &totalSize, status);
  if (TF_GetCode(status) != TF_OK) return false;
  values->resize(listSize);
  if (listSize > 0) TF_OpKernelConstruction_GetAttrInt64List(ctx, name, values->data(), listSize, status);
  return TF_GetCode(status) == TF_OK;
}

/** Where `starts` is not [0, …, end] non-decreasing: the message; else "". */
std::string checkSeqStarts(const char* opName, const char* name, const std::vector<int64_t>& starts, int64_t end,
                           const char* endName) {
  bool ok = starts.size() >= 2 && starts.front() == 0 && starts.back() == end;
  for (size_t i = 1; ok && i < starts.size(); i++) ok = starts[i] >= starts[i - 1];
  if (ok) return "";
  std::ostringstream message;
  message << opName << ": " << name << " must be non-decreasing cumulative starts from 0 to " << endName << " = " << end
          << ", got " << formatDims(starts);
  return message.str();
}

/** Strides that broadcast `shape` (rank <= 4) to `target` (NumPy rules), or false. */
bool broadcastStrides(const Dims& shape, const Dims& target, int64_t strides[4]) {
  if (shape.size() > target.size()) return false;
  Dims padded(target.size() - shape.size(), 1);
  padded.insert(padded.end(), shape.begin(), shape.end());
  int64_t stride = 1;
  for (int d = static_cast<int>(target.size()) - 1; d >= 0; d--) {
    if (padded[d] == target[d]) {
      strides[d] = padded[d] == 1 ? 0 : stride;
    } else if (padded[d] == 1) {
      strides[d] = 0;
    } else {
      return false;
    }
    stride *= padded[d];
  }
  return true;
}

}  // namespace

bool readOpAttrs(TF_OpKernelConstruction* ctx, const char* opName, OpAttrs* attrs) {
  StatusPtr status = newStatus();
  TF_Status* s = status.get();
  unsigned char hasBias = 0, hasWindowBias = 0;
  TF_OpKernelConstruction_GetAttrFloat(ctx, "scale", &attrs->scale, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "causal", &attrs->causal, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrFloat(ctx, "dropout_rate", &attrs->dropoutRate, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrInt64(ctx, "dropout_seed", &attrs->dropoutSeed, s);
  if (TF_GetCode(s) == TF_OK) readIntList(ctx, "q_seq_starts", &attrs->qSeqStarts, s);
  if (TF_GetCode(s) == TF_OK) readIntList(ctx, "k_seq_starts", &attrs->kSeqStarts, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrBool(ctx, "has_bias", &hasBias, s);
  if (TF_GetCode(s) == TF_OK) TF_OpKernelConstruction_GetAttrBool(ctx, "has_window_bias", &hasWindowBias, s);
  if (TF_GetCode(s) != TF_OK) {
    TF_OpKernelConstruction_Failure(ctx, s);
    return false;
  }
  attrs->hasBias = hasBias != 0;
  attrs->hasWindowBias = hasWindowBias != 0;

  std::ostringstream message;
  message << opName << ": ";
  if (!std::isfinite(attrs->scale) || attrs->scale < 0) {
    message << "scale must be a finite number ≥ 0, got " << attrs->scale;
  } else if (attrs->causal < 0 || attrs->causal > 2) {
    message << "causal must be 0 (none), 1 (top-left) or 2 (bottom-right), got " << attrs->causal;
  } else if (!(attrs->dropoutRate >= 0 && attrs->dropoutRate < 1)) {
    message << "dropout_rate must be a number in [0, 1), got " << attrs->dropoutRate;
  } else if (attrs->dropoutSeed < 0 || attrs->dropoutSeed > 0xffffffffLL) {
    message << "dropout_seed must be an integer in [0, 2^32), got " << attrs->dropoutSeed;
  } else if (attrs->qSeqStarts.size() != attrs->kSeqStarts.size()) {
    message << "q_seq_starts and k_seq_starts must have the same length, got " << attrs->qSeqStarts.size() << " and "
            << attrs->kSeqStarts.size();
  } else {
    return true;
  }
  failConstruction(ctx, message.str());
  return false;
}

Dims dimsOf(const TF_Tensor* tensor) {
  Dims dims(TF_NumDims(tensor));
  for (size_t d = 0; d < dims.size(); d++) dims[d] = TF_Dim(tensor, static_cast<int>(d));
  return dims;
}

std::string formatDims(const Dims& dims) {
  std::ostringstream out;
  out << '[';
  for (size_t d = 0; d < dims.size(); d++) out << (d > 0 ? "," : "") << dims[d];
  out << ']';
  return out.str();
}

int64_t elementCount(const Dims& dims) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  return count;
}

std::string describeProblem(const char* opName, const OpAttrs& attrs, const Dims& query, const Dims& key,
                            const Dims& value, const Dims& bias, const Dims& windowBias, cpu::Problem* problem) {
  std::ostringstream message;
  message << opName << ": ";
  const auto fail = [&](const std::string& what, const Dims& got) {
    message << what << ", got shape " << formatDims(got);
    return message.str();
  };
  if (query.size() != 4) return fail("query must be rank 4 [batch, heads, seqQ, headDim]", query);
  if (key.size() != 4) return fail("key must be rank 4 [batch, heads, seqK, headDim]", key);
  if (value.size() != 4) return fail("value must be rank 4 [batch, heads, seqK, valueDim]", value);
  for (const Dims* dims : {&query, &key, &value}) {
    for (int64_t d : *dims) {
      if (d > INT_MAX) return fail("every dimension must be below 2^31", *dims);
    }
  }
  const int64_t B = query[0], Hq = query[1], Sq = query[2], D = query[3];
  const int64_t Hkv = key[1], Sk = key[2], Dv = value[3];
  if (key[0] != B || key[3] != D) {
    return fail("key must have batch " + std::to_string(B) + " and headDim " + std::to_string(D), key);
  }
  if (value[0] != B || value[1] != Hkv || value[2] != Sk) {
    return fail("value must have batch, heads and seqK of key " + formatDims({B, Hkv, Sk}), value);
  }
  if (Hkv == 0 ? Hq != 0 : Hq % Hkv != 0) {
    return fail("query heads must be a multiple of key heads (" + std::to_string(Hkv) + ")", query);
  }
  const Dims scores = {B, Hq, Sq, Sk};
  if (attrs.hasBias && !broadcastStrides(bias, scores, problem->biasStride)) {
    return fail("bias must broadcast to [batch, heads, seqQ, seqK] = " + formatDims(scores), bias);
  }
  if (attrs.hasWindowBias) {
    const Dims& w = windowBias;
    if (w.size() != 4 || w[0] < 1 || (w[1] != 1 && w[1] != Hq) || w[2] != Sq || w[3] != Sk) {
      return fail("window_bias must have shape [nW, 1 or " + std::to_string(Hq) + ", " + std::to_string(Sq) + ", " +
                      std::to_string(Sk) + "]",
                  w);
    }
    if (B % w[0] != 0) {
      message << "batch must be a multiple of window_bias's " << w[0] << " windows, got batch " << B;
      return message.str();
    }
    problem->numWindows = static_cast<int>(w[0]);
    problem->windowStride[0] = w[1] * Sq * Sk;
    problem->windowStride[1] = w[1] == 1 ? 0 : Sq * Sk;
    problem->windowStride[2] = Sk;
    problem->windowStride[3] = 1;
  }
  if (!attrs.qSeqStarts.empty()) {
    if (B != 1) return fail("block-diagonal masking (q_seq_starts) needs batch 1", query);
    std::string error = checkSeqStarts(opName, "q_seq_starts", attrs.qSeqStarts, Sq, "seqQ");
    if (error.empty()) error = checkSeqStarts(opName, "k_seq_starts", attrs.kSeqStarts, Sk, "seqK");
    if (!error.empty()) return error;
  }
  problem->batch = static_cast<int>(B);
  problem->headsQ = static_cast<int>(Hq);
  problem->headsKV = static_cast<int>(Hkv);
  problem->seqQ = static_cast<int>(Sq);
  problem->seqK = static_cast<int>(Sk);
  problem->headDim = static_cast<int>(D);
  problem->valueDim = static_cast<int>(Dv);
  problem->scale = attrs.scale;
  problem->causal = static_cast<int>(attrs.causal);
  problem->dropoutRate = attrs.dropoutRate;
  problem->dropoutSeed = static_cast<uint32_t>(attrs.dropoutSeed);
  problem->qSeqStarts.assign(attrs.qSeqStarts.begin(), attrs.qSeqStarts.end());
  problem->kSeqStarts.assign(attrs.kSeqStarts.begin(), attrs.kSeqStarts.end());
  return "";
}

std::string describeGradProblem(const char* opName, const OpAttrs& attrs, const Dims& dy, const Dims& query,
                                const Dims& key, const Dims& value, const Dims& output, const Dims& logsumexp,
                                const Dims& bias, const Dims& windowBias, cpu::Problem* problem) {
  const std::string error = describeProblem(opName, attrs, query, key, value, bias, windowBias, problem);
  if (!error.empty()) return error;
  const Dims outDims = {problem->batch, problem->headsQ, problem->seqQ, problem->valueDim};
  const Dims rows = {problem->batch, problem->headsQ, problem->seqQ};
  const auto mismatch = [&](const std::string& what, const Dims& got) {
    return std::string(opName) + ": " + what + ", got shape " + formatDims(got);
  };
  if (dy != outDims) return mismatch("dy must have the output's shape " + formatDims(outDims), dy);
  if (output != outDims) return mismatch("output must have shape " + formatDims(outDims), output);
  if (logsumexp != rows) return mismatch("logsumexp must have shape " + formatDims(rows), logsumexp);
  return "";
}

}  // namespace tf
}  // namespace tfjs_attention
