// What one attention call hands the kernels: pointers, sizes, the biases' broadcast strides
// and the masking and dropout attributes (docs/contract.md §3, §5). Shared by host and device code.
#pragma once
#include <cstdint>

enum class Precision : int { Highest = 0, TF32 = 1, BF16 = 2 };

struct AttentionParams {
  // Forward inputs and outputs, contiguous: q [B,Hq,Sq,D], k [B,Hkv,Sk,D], v [B,Hkv,Sk,Dv].
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  const float* bias = nullptr;        // read through biasStride over [B, Hq, Sq, Sk]
  const float* windowBias = nullptr;  // read through windowStride over [b % nW, h, i, j]
  float* out = nullptr;               // [B, Hq, Sq, Dv]
  float* lse = nullptr;               // [B, Hq, Sq], natural log; +Inf on fully masked rows

  // Backward: dout [B,Hq,Sq,Dv]; delta [B,Hq,Sq] = rowsum(dout * out) is scratch.
  const float* dout = nullptr;
  float* delta = nullptr;
  float* dq = nullptr;  // accumulated with atomics: zeroed by launchBackward's row pass
  float* dk = nullptr;
  float* dv = nullptr;
  float* dbias = nullptr;        // bias-shaped, accumulated with atomics
  float* dwindowBias = nullptr;  // windowBias-shaped, accumulated with atomics

  int batch = 0, headsQ = 0, headsKV = 0, seqQ = 0, seqK = 0, headDim = 0, valueDim = 0;
  int group = 1;  // headsQ / headsKV
  int64_t biasStride[4] = {0, 0, 0, 0};
  int64_t windowStride[4] = {0, 0, 0, 0};
  int numWindows = 1;

  float scale = 1.f;
  int causal = 0;  // 0 none, 1 top-left, 2 bottom-right (inside each block)

  // Block-diagonal packing: numBlocks + 1 cumulative starts each; numBlocks == 0 means one block.
  const int* qStarts = nullptr;
  const int* kStarts = nullptr;
  int numBlocks = 0;

  // Dropout: kept when hash >= threshold; kept values scaled by dropoutScale.
  bool dropout = false;
  uint32_t dropoutSeed = 0;
  uint32_t dropoutThreshold = 0;
  float dropoutScale = 1.f;
};
