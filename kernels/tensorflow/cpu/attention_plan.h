// What the instruction-set variants of the CPU core share: one call resolved to plain data
// (sizes, masks, operand views, outputs), the block sizes, and the table of tile functions
// each variant exports.
//
// The variants are compiled with different -m flags (sources.json), so nothing here may
// have a definition that the linker could merge across them (no inline functions, no
// templates): a merged copy compiled for AVX-512 would run on a CPU without it.
#pragma once
#include <cstdint>

namespace tfjs_attention {
namespace cpu {

// Query rows per task; scores are computed transposed, keys × queries, so the queries of
// a block are the vector lanes (softmax statistics need no horizontal reductions).
// Keys per key block. kPadTo is the widest vector: padded rows are multiples of it.
enum : int64_t { kQueryBlock = 64, kKeyBlock = 64, kPadTo = 16 };

// Row-major rows of a tensor: row r at data + r * stride, its first `dim` floats valid
// and readable (with their padding) up to a multiple of kPadTo.
struct Rows {
  const float* data;
  int64_t stride;
};

// A bias read through strides over [B, Hq, Sq, Sk] (0 on broadcast dimensions), laid out so
// that the query stride is 0 or 1 (queries are the lanes), and where it is 1, readable
// kQueryBlock floats past its last element.
struct BiasView {
  const float* data;  // null when absent
  int64_t stride[4];
  int64_t batchModulo;  // batch index b reads b % batchModulo (the window bias's nW), else B
};

struct Plan {
  int64_t batch, headsQ, headsKV, group, seqQ, seqK, headDim, valueDim;
  int64_t headDimPadded, valueDimPadded;  // rounded up to kPadTo
  int64_t queryBlocks, keyBlocks;         // ceil(seqQ / kQueryBlock), ceil(seqK / kKeyBlock)
  float scale;
  int causal;             // 0 none, 1 top-left, 2 bottom-right (inside each block)
  const int* qSeqStarts;  // numSeqBlocks + 1 cumulative starts, or null
  const int* kSeqStarts;
  int64_t numSeqBlocks;
  BiasView bias, windowBias;
  int dropout;                             // 0 or 1
  uint32_t dropoutSeed, dropoutThreshold;  // kept when hash >= threshold (docs/contract.md §5)
  float dropoutScale;                      // 1 / (1 - rate)

  // Inputs as rows (padded copies where a dimension is not a multiple of kPadTo).
  Rows query, key, value, dout;  // [B·Hq·Sq], [B·Hkv·Sk], [B·Hkv·Sk], [B·Hq·Sq]
  // Backward inputs: the forward's output and logsumexp.
  const float *forwardOut, *logsumexp;
  // Backward, where the key pass is split from the query pass (kKeysAndValues): query and
  // dout transposed per query block, [B·Hq][queryBlocks][dim][kQueryBlock] (zero past seqQ),
  // and rowsum(dO ∘ O), [B·Hq][queryBlocks·kQueryBlock], written by backwardRowsTask.
  float *queryT, *doutT, *rowDelta;

  // Outputs, unpadded in the contract's layout.
  float *out, *logsumexpOut;  // forward
  float *dq, *dk, *dv;        // backward
};

// Bias gradients of one backward worker, laid out as plan.bias / plan.windowBias: the
// outputs themselves, or the worker's partial sums where tasks share bias elements.
struct BiasGradients {
  float* bias;
  float* windowBias;
};

// Which gradients a backward key task computes.
enum BackwardMode : int { kKeysAndValues = 1, kKeysValuesAndQueries = 3 };

// Scratch floats one worker needs for each kind of task (64-byte aligned by the caller).
struct ScratchSizes {
  int64_t forward, backwardKeys, backwardQueries;
};

struct IsaKernels {
  const char* name;
  // Task (b, h, query block): output rows and their logsumexp. nextTask (or -1): the task
  // this worker runs next, whose first rows it asks the cache for.
  void (*forwardTask)(const Plan&, float* scratch, int64_t task, int64_t nextTask);
  // Task (b, h): Plan::queryT, doutT and rowDelta of those rows (mode kKeysAndValues; in
  // mode kKeysValuesAndQueries each key task prepares its own in scratch).
  void (*backwardRowsTask)(const Plan&, int64_t task);
  // Mode kKeysAndValues, task (b, kv head, key block): dK, dV of that key block, and the
  // bias gradients of its scores. Mode kKeysValuesAndQueries, task (b, kv head): each key
  // block in turn, and dQ of the group's query heads (kept in scratch until the end);
  // nextTask (or -1) as in forwardTask.
  void (*backwardKeyTask)(const Plan&, const BiasGradients&, float* scratch, int64_t task, int mode, int64_t nextTask);
  // Task (b, h, query block): dQ of those rows.
  void (*backwardQueryTask)(const Plan&, float* scratch, int64_t task);
  ScratchSizes (*scratchSizes)(const Plan&, int mode);
  // y = 2^x by the tiles' vectorized exponential (for its accuracy test).
  void (*exponential2)(const float* x, float* y, int64_t n);
  // y = ln x by the tiles' vectorized logarithm (for its accuracy test).
  void (*logarithm)(const float* x, float* y, int64_t n);
};

const IsaKernels* portableKernels();
#if defined(__x86_64__)
const IsaKernels* avx2Kernels();
const IsaKernels* avx512Kernels();
#endif

}  // namespace cpu
}  // namespace tfjs_attention
