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

// docs/contract.md §7 for the forward kernels: a key's non-finite value reaches the rows that
// give the key weight, and no others. P·V would carry it to every row (0 · NaN is NaN), so a
// value tile that holds one takes a slow path: its non-finite values are read as 0
// (takeNonFiniteValues zeroes them, finiteWarpOutputs skips them), and poisonReaders gives the
// rows that weight such a key above 0 a NaN sum. Kernels learn that a tile needs it from a
// witness (addValueWitness) of its values, or of the outputs they made from them.

// The keys of a [kKeys][kDims] value tile in shared memory (element (key, dim) at tile[at(key,
// dim)]) whose row holds ±Infinity or NaN, as bit key; one warp finds them all.
template <int kKeys, int kDims, class At>
__device__ __forceinline__ uint64_t nonFiniteValueKeys(const float* tile, At at) {
  static_assert(kKeys % 32 == 0 && kKeys <= 64, "whole warps of keys, one bit each");
  const int lane = threadIdx.x % 32;
  uint64_t keys = 0;
  for (int k0 = 0; k0 < kKeys; k0 += 32) {
    bool nonFinite = false;
    for (int d = 0; d < kDims; ++d) nonFinite |= !isfinite(tile[at(k0 + lane, d)]);
    keys |= uint64_t(__ballot_sync(0xffffffffu, nonFinite)) << k0;
  }
  return keys;
}

// nonFiniteValueKeys, and then those values zeroed in the tile. The whole block calls it: it
// holds barriers before its writes and after them.
template <int kKeys, int kDims, int kThreads, class At>
__device__ __noinline__ uint64_t takeNonFiniteValues(float* tile, At at) {
  const uint64_t keys = nonFiniteValueKeys<kKeys, kDims>(tile, at);
  __syncthreads();
  for (int c = threadIdx.x; c < kKeys * kDims; c += kThreads) {
    float& x = tile[at(c / kDims, c % kDims)];
    if (!isfinite(x)) x = 0.f;
  }
  __syncthreads();
  return keys;
}

// The sum of addValueWitness over a lane's outputs (the accumulator layout): non-finite where
// one of them is.
template <int kOutTiles>
__device__ __forceinline__ float outputWitness(const float (&o)[kOutTiles][4]) {
  float witness = 0.f;
#pragma unroll
  for (int n = 0; n < kOutTiles; ++n)
    witness = addValueWitness(witness, make_float4(o[n][0], o[n][1], o[n][2], o[n][3]));
  return witness;
}

// One warp's outputs P·V (16 rows, the accumulator layout) over a [kScoreTiles · 8][kOutTiles · 8]
// value tile in shared memory (row stride ld), with ±Infinity and NaN values skipped: the slow
// path of a warp whose products met one. In fp32 without tensor cores, a key at a time, each
// probability taken from the lane that holds it; arguments and result by value, so that the
// fast path keeps them in registers.
template <int kScoreTiles, int kOutTiles>
struct WarpTiles {
  float x[kScoreTiles > kOutTiles ? kScoreTiles : kOutTiles][4];
};
template <int kScoreTiles, int kOutTiles>
__device__ __noinline__ WarpTiles<kScoreTiles, kOutTiles> finiteWarpOutputs(WarpTiles<kScoreTiles, kOutTiles> p,
                                                                            const float* v, int ld) {
  const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  WarpTiles<kScoreTiles, kOutTiles> o = {};
  for (int j = 0; j < kScoreTiles * 8; ++j) {
    const int holder = 4 * g + (j % 8) / 2;
    for (int r = 0; r < 2; ++r) {
      const float weight = __shfl_sync(0xffffffffu, p.x[j / 8][2 * r + j % 2], holder);
      for (int n = 0; n < kOutTiles; ++n)
        for (int c = 0; c < 2; ++c) {
          const float value = v[j * ld + n * 8 + 2 * t + c];
          if (isfinite(value)) o.x[n][2 * r + c] += weight * value;
        }
    }
  }
  return o;
}

// Rows whose probabilities p (keys 8 n + 2 t + e % 2 of the tile, as in exponentiateScores) give
// a key of `keys` weight above 0 get a NaN share of the row sum: their output and logsumexp
// come out NaN.
template <int kScoreTiles>
__device__ __forceinline__ void poisonReaders(const float (&p)[kScoreTiles][4], float (&rowSum)[2], uint64_t keys,
                                              int t) {
#pragma unroll
  for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      if ((keys >> (n * 8 + 2 * t + (e & 1))) & 1 && p[n][e] != 0.f) rowSum[e / 2] = NAN;
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
        // A -Infinity bias entry masks its key: selected, since a NaN score plus it is NaN (§7).
        if constexpr (kHasBias) s[n][e] = bias[n][e] == -INFINITY ? -INFINITY : s[n][e] + bias[n][e];
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
