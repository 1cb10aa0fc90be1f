// What the tiled forward kernels (forward.cu, forward_wgmma.cu) share: a block's query rows
// and the key tiles they visit, and the online softmax. A lane holds two query rows of a
// 16-row warp tile, its scores and outputs in the accumulator layout of mma.cuh (which
// wgmma's accumulators share: element e of tile n sits at row g + 8 (e / 2), column
// 8 n + 2 t + (e % 2)).
#pragma once
#include <cmath>
#include "attention_common.cuh"

namespace attention {

// A block of kBlockM query rows of one (batch, head), blockIdx.x, that streams kBlockN-key tiles.
template <int kBlockM, int kBlockN>
struct QueryBlock {
  int row0, bh, b, h;
  const float *q, *k, *v;          // this (batch, head)'s rows
  KeyRange firstRange, lastRange;  // of the block's first and last rows
  int tileBegin, tileEnd;          // key tiles that some row sees
  int rows[2];                     // this lane's rows, and what they see
  KeyRange range[2];
  uint32_t dropState[2];

  __device__ __forceinline__ QueryBlock(const AttentionParams& p, int warp, int g) {
    // Later query blocks see more keys under causal masks: start them first.
    row0 = (gridDim.y - 1 - blockIdx.y) * kBlockM;
    bh = blockIdx.x;
    b = bh / p.headsQ;
    h = bh % p.headsQ;
    const int hk = h / p.group;
    q = p.q + int64_t(bh) * p.seqQ * p.headDim;
    k = p.k + (int64_t(b) * p.headsKV + hk) * p.seqK * p.headDim;
    v = p.v + (int64_t(b) * p.headsKV + hk) * p.seqK * p.valueDim;
    firstRange = keyRange(p, row0);
    lastRange = keyRange(p, min(row0 + kBlockM, p.seqQ) - 1);
    tileBegin = firstRange.begin / kBlockN;
    tileEnd = (lastRange.end + kBlockN - 1) / kBlockN;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      rows[r] = row0 + warp * 16 + g + 8 * r;
      range[r] = rows[r] < p.seqQ ? keyRange(p, rows[r]) : KeyRange{0, 0};
      dropState[r] = p.dropout ? dropoutRowState(p, bh, rows[r]) : 0u;
    }
  }
  // Tiles inside every row's range (most, without masks) skip the per-element mask.
  __device__ __forceinline__ bool fullTile(int key0) const {
    return tileFullyVisible(firstRange, lastRange, key0, kBlockN);
  }
};

// Completes a lane's two row maxima m across its quad (the lanes that share the rows) and
// gives the base each row's exponents subtract: the maximum, or 0 for a row with nothing
// visible, so that exp2(-inf - base) = 0, never NaN.
__device__ __forceinline__ void completeRowMaxima(float (&m)[2], float (&base)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    m[r] = fmaxf(m[r], __shfl_xor_sync(0xffffffffu, m[r], 1));
    m[r] = fmaxf(m[r], __shfl_xor_sync(0xffffffffu, m[r], 2));
    base[r] = m[r] == -INFINITY ? 0.f : m[r];
  }
}

// Scores (log2 units, keys key0 + 8 n + 2 t + e % 2) → exp2(s - base) in place, added to this
// lane's row sums. Dropped entries then leave s but count in the sum; the 1 / (1 - rate) of
// kept ones is applied at the end in fp32, not to tensor-core operands. Dropout runs as a loop
// of its own under a uniform branch, so that calls without it spend nothing.
template <int kScoreTiles>
__device__ __forceinline__ void exponentiateScores(float (&s)[kScoreTiles][4], const float (&base)[2],
                                                   float (&rowSum)[2], const AttentionParams& p,
                                                   const uint32_t (&dropState)[2], int key0, int t) {
#pragma unroll
  for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[n][e] = fastExp2(s[n][e] - base[e / 2]);
      rowSum[e / 2] += s[n][e];
    }
  if (p.dropout) {
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (!dropoutKeeps(p, dropState[e / 2], key0 + n * 8 + 2 * t + (e & 1))) s[n][e] = 0.f;
  }
}

template <int kScoreTiles, int kOutTiles>
struct OnlineSoftmax {
  float rowMax[2] = {-INFINITY, -INFINITY};  // log2 units
  float rowSum[2] = {0.f, 0.f};              // this lane's share; storeOutputRows completes it

  // Turns one key tile's scores (QKᵀ) into unnormalized probabilities in place and gives the
  // factor by which the outputs so far must be scaled for the new row maxima (rescale). bias
  // (log2 units) is added where kHasBias; keys outside a row's range become 0 unless the tile
  // is fully visible. The mask runs as a loop of its own under a uniform branch, so that tiles
  // without it spend nothing.
  template <bool kHasBias>
  __device__ __forceinline__ void step(float (&s)[kScoreTiles][4], float (&correction)[2],
                                       const float (&bias)[kScoreTiles][4], const AttentionParams& p, float scaleLog2,
                                       int key0, bool fullTile, const KeyRange (&range)[2],
                                       const uint32_t (&dropState)[2], int t) {
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[n][e] *= scaleLog2;
        if constexpr (kHasBias) s[n][e] += bias[n][e];
      }
    if (!fullTile) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, j = key0 + n * 8 + 2 * t + (e & 1);
          if (!(j >= range[r].begin && j < range[r].end)) s[n][e] = -INFINITY;
        }
    }
    float tileMax[2] = {rowMax[0], rowMax[1]};
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) tileMax[e / 2] = fmaxf(tileMax[e / 2], s[n][e]);
    float base[2];
    completeRowMaxima(tileMax, base);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      correction[r] = fastExp2(rowMax[r] - base[r]);
      rowMax[r] = tileMax[r];
      rowSum[r] *= correction[r];
    }
    exponentiateScores(s, base, rowSum, p, dropState, key0, t);
  }

  static __device__ __forceinline__ void rescale(float (&o)[kOutTiles][4], const float (&correction)[2]) {
#pragma unroll
    for (int n = 0; n < kOutTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[n][e] *= correction[e / 2];
  }
};

}  // namespace attention
