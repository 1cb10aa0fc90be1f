// Backward pass, FlashAttention-2 structure: a block owns kBlockN keys of one key/value head
// and accumulates their dK and dV in registers while it walks the query tiles of every query
// head in the group, recomputing probabilities from the forward's logsumexp. dQ and the bias
// gradients are summed into global memory with atomics. Every warp computes S and dP on its
// share of a step's scores; then half of the warps accumulate dV and the other half dK, each
// warp on two 16-key tiles so that each B fragment (read with scalar loads) feeds two products.
// Under 'tf32', where the key blocks are not a whole number of waves, resident blocks share out
// all key blocks' steps evenly instead (stream-K, BackwardSchedule).
#include <algorithm>
#include <climits>
#include <cmath>
#include "attention_common.cuh"
#include "device_info.h"
#include "kernel_heuristics.h"
#include "kernel_traits.cuh"
#include "launch.h"
#include "mma.cuh"

namespace attention {
namespace {

// delta[row] = dout[row] · out[row], dout rounded as the dP product (policy Mma) rounds it (see
// attentionOutputMma), and dQ's row zeroed for the backward's atomics (one pass over the rows
// instead of a memset besides). With kRounds, the pass also writes the row's Q and dO rounded
// to TF32 into roundedQ and roundedDout: the backward kernel's policy reads rounded tiles, and
// this way a block gets its query tiles rounded instead of rounding each in shared memory.
// kRowLanes lanes per row, kVec floats per load (16-byte loads where D and Dv allow).
constexpr int kRowLanes = 16;
__device__ __forceinline__ float* floats(float4& x) { return &x.x; }
__device__ __forceinline__ float* floats(float& x) { return &x; }
template <class Mma, int kVec, bool kRounds>
__global__ void rowDotKernel(const AttentionParams p, float* roundedQ, float* roundedDout) {
  using Chunk = std::conditional_t<kVec == 4, float4, float>;
  const int64_t rows = int64_t(p.batch) * p.headsQ * p.seqQ;
  const int64_t row = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kRowLanes;
  const int lane = threadIdx.x % kRowLanes;
  float sum = 0.f;
  // No early return: both rows of a warp take part in the shuffles below.
  if (row < rows) {
    const int64_t outRow = row * p.valueDim, queryRow = row * p.headDim;
    for (int c = kVec * lane; c < p.valueDim; c += kVec * kRowLanes) {
      Chunk d = *reinterpret_cast<const Chunk*>(p.dout + outRow + c);
      Chunk o = *reinterpret_cast<const Chunk*>(p.out + outRow + c);
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        floats(d)[i] = Mma::roundOperand(floats(d)[i]);
        sum += floats(d)[i] * floats(o)[i];
      }
      if constexpr (kRounds) *reinterpret_cast<Chunk*>(roundedDout + outRow + c) = d;
    }
    for (int c = kVec * lane; c < p.headDim; c += kVec * kRowLanes) {
      if constexpr (kRounds) {
        Chunk q = *reinterpret_cast<const Chunk*>(p.q + queryRow + c);
#pragma unroll
        for (int i = 0; i < kVec; ++i) floats(q)[i] = Mma::roundOperand(floats(q)[i]);
        *reinterpret_cast<Chunk*>(roundedQ + queryRow + c) = q;
      }
      *reinterpret_cast<Chunk*>(p.dq + queryRow + c) = Chunk{};
    }
  }
#pragma unroll
  for (int offset = kRowLanes / 2; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (row < rows && lane == 0) p.delta[row] = sum;
}

// Two adjacent floats added atomically by one vector reduction (sm_90), else two.
__device__ __forceinline__ void addPair(float* address, float x, float y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(address), "f"(x), "f"(y) : "memory");
#else
  atomicAdd(address, x);
  atomicAdd(address + 1, y);
#endif
}

// x and y added atomically at columns col and col + 1 of a row of `width` floats, where those
// exist: as one pair where the row's pairs are 8-byte aligned (even width), else one by one.
__device__ __forceinline__ void addColumnPair(float* row, int col, int width, float x, float y) {
  if (width % 2 == 0 && col + 1 < width) {
    addPair(row + col, x, y);
    return;
  }
  if (col < width) atomicAdd(row + col, x);
  if (col + 1 < width) atomicAdd(row + col + 1, y);
}

// dQ += dq · scale for a warp's MT tiles of 16 query rows (stored in paired order) over
// kDimTiles column tiles of 8. Where D allows 16-byte reductions (sm_90), lanes t and t ^ 1 swap
// half of their pairs so that each adds 4 adjacent columns of one row: half the reductions of pairs.
template <int MT, int kDimTiles>
__device__ __forceinline__ void storeQueryGradients(const AttentionParams& p, const float (&dq)[MT][kDimTiles][4],
                                                    int bh, int row0, int dm0, int dn0, int g, int t) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (p.headDim % 4 == 0) {
    const int r = t & 1;  // even t takes row g, odd t row g + 8
#pragma unroll
    for (int mi = 0; mi < MT; ++mi) {
      const int i = row0 + pairedIndex(dm0 + 16 * mi + g + 8 * r);
      float* dqRow = p.dq + (int64_t(bh) * p.seqQ + i) * p.headDim;
#pragma unroll
      for (int n = 0; n < kDimTiles; ++n) {
        // The partner needs this lane's pair of its row (selects, not indices: r is not a
        // compile-time value, and indexing by it would put dq in local memory).
        const float* d = dq[mi][n];
        const float x = __shfl_xor_sync(0xffffffffu, r == 0 ? d[2] : d[0], 1);
        const float y = __shfl_xor_sync(0xffffffffu, r == 0 ? d[3] : d[1], 1);
        const int col = dn0 + n * 8 + 2 * (t & ~1);
        if (i >= p.seqQ || col >= p.headDim) continue;
        const float a = (r == 0 ? d[0] : d[2]) * p.scale;
        const float b = (r == 0 ? d[1] : d[3]) * p.scale;
        const float4 sum = r == 0 ? float4{a, b, x * p.scale, y * p.scale} : float4{x * p.scale, y * p.scale, a, b};
        asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(dqRow + col), "f"(sum.x), "f"(sum.y),
                     "f"(sum.z), "f"(sum.w)
                     : "memory");
      }
    }
    return;
  }
#endif
#pragma unroll
  for (int mi = 0; mi < MT; ++mi)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = row0 + pairedIndex(dm0 + 16 * mi + g + 8 * r);
      if (i >= p.seqQ) continue;
      float* dqRow = p.dq + (int64_t(bh) * p.seqQ + i) * p.headDim;
#pragma unroll
      for (int n = 0; n < kDimTiles; ++n) {
        addColumnPair(dqRow, dn0 + n * 8 + 2 * t, p.headDim, dq[mi][n][2 * r] * p.scale,
                      dq[mi][n][2 * r + 1] * p.scale);
      }
    }
}

// dK or dV of a warp's share of the block's keys (scaled by factor): stored, or added where
// other workers add their parts of the same key block.
template <int KR, int KC>
__device__ __forceinline__ void storeKeyGradients(float* out, int width, int64_t firstRow, int seqK, int key0,
                                                  const float (&grad)[KR][KC][4], float factor, bool added, int km0,
                                                  int kn0, int g, int t) {
#pragma unroll
  for (int mi = 0; mi < KR; ++mi)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int j = key0 + km0 + 16 * mi + g + 8 * r;
      if (j >= seqK) continue;
      float* row = out + (firstRow + j) * width;
#pragma unroll
      for (int n = 0; n < KC; ++n) {
        const int col = kn0 + n * 8 + 2 * t;
        const float x = grad[mi][n][2 * r] * factor, y = grad[mi][n][2 * r + 1] * factor;
        if (added) {
          addColumnPair(row, col, width, x, y);
        } else {
          if (col < width) row[col] = x;
          if (col + 1 < width) row[col + 1] = y;
        }
      }
    }
}

// How the backward's blocks share out the key blocks. By default a block owns one key block
// and walks all of its steps. In stream-K (where every key block has the same steps: no causal
// or block-diagonal mask), `workers` resident blocks instead take even shares of all key blocks'
// steps in order, so that no multiprocessor idles through a last partial wave; a key block split
// between blocks gets its dK and dV added atomically, into rows zeroed beforehand
// (zeroSplitKeyBlocks).
struct BackwardSchedule {
  int workers = 0;        // blocks
  int stepsPerBlock = 0;  // steps of each key block, in stream-K
  int64_t units = 0;      // key blocks × stepsPerBlock, in stream-K
  __host__ __device__ int64_t firstUnit(int worker) const { return units * worker / workers; }
};

// Key block i is block i / (B·Hkv) of kv head i % (B·Hkv): under causal masks the key blocks
// that see the most query rows start first, on every head. Its first key and its (batch, kv head).
template <int BN>
struct KeyBlock {
  int key0, bk;
  __device__ __forceinline__ KeyBlock(const AttentionParams& p, unsigned index) {
    const int kvHeads = p.batch * p.headsKV;
    key0 = int(index / kvHeads) * BN;
    bk = int(index % kvHeads);
  }
};

// Zeroes dK and dV of the key blocks where a stream-K share begins mid-block (one block each).
template <int BN>
__global__ void zeroSplitKeyBlocks(const AttentionParams p, const BackwardSchedule schedule) {
  const int64_t unit = schedule.firstUnit(blockIdx.x + 1);
  if (unit % schedule.stepsPerBlock == 0) return;
  const KeyBlock<BN> block(p, unsigned(unit / schedule.stepsPerBlock));
  const int key0 = block.key0, keys = min(BN, p.seqK - key0);
  const int64_t firstRow = int64_t(block.bk) * p.seqK + key0;
  for (int i = threadIdx.x; i < keys * p.headDim; i += blockDim.x) p.dk[firstRow * p.headDim + i] = 0.f;
  for (int i = threadIdx.x; i < keys * p.valueDim; i += blockDim.x) p.dv[firstRow * p.valueDim + i] = 0.f;
}

// One key block's part of the backward: kBlockN keys of one key/value head, steps
// [stepBegin, min(stepLimit, its steps)) of its walk over the query tiles; its dK and dV stored,
// or added where the key block is split between blocks.
template <class Traits, class Mma>
__device__ __forceinline__ void backwardKeyBlock(const AttentionParams& p, bool queryTilesRounded, unsigned keyBlock,
                                                 int stepBegin, int stepLimit) {
  constexpr int BM = Traits::kBlockM, BN = Traits::kBlockN, HD = Traits::kHeadDim;
  constexpr int LD = Traits::kLd, LDT = Traits::kLdTransposed;
  constexpr int kScoreTiles = Traits::kScoreColTiles;  // 8-column tiles per warp of a score tile
  constexpr int KR = Traits::kKeyRowTiles, KC = Traits::kKeyDimTiles;
  constexpr int QR = Traits::kDqRowTiles, QC = Traits::kDqDimTiles;
  extern __shared__ float smem[];
  float* ks = smem;
  float* vs = ks + BN * LD;
  float* qs = vs + BN * LD;
  float* dos = qs + BM * LD;
  // P and dS stored [key][query], queries in paired order within groups of 8 (pairedPosition):
  // dV and dK read them row by row (ldmatrix for TF32) and dQ across; the other operands of
  // those products (dO, Q, K) are then read in paired order, rows 2t and 2t + 1 on distinct banks.
  float* pts = dos + BM * LD;
  float* dsts = pts + BN * LDT;
  float* lse2 = dsts + BN * LDT;
  float* deltas = lse2 + BM;

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const int wm = warp % (BM / 16), wn = warp / (BM / 16);
  const bool gradientGroup = warp >= Traits::kGroupWarps;
  const int groupWarp = warp % Traits::kGroupWarps;
  constexpr int kKeyWarpRows = BN / 16 / KR;
  const int km0 = groupWarp % kKeyWarpRows * 16 * KR, kn0 = groupWarp / kKeyWarpRows * 8 * KC;
  const int qm0 = warp % Traits::kDqWarpRows * 16 * QR, qn0 = warp / Traits::kDqWarpRows * 8 * QC;
  const bool qkVector = p.headDim % 4 == 0, vVector = p.valueDim % 4 == 0;
  const float scaleLog2 = p.scale * kLog2e;

  const KeyBlock<BN> block(p, keyBlock);
  const int key0 = block.key0, bk = block.bk, b = bk / p.headsKV, hk = bk % p.headsKV;
  const float* k = p.k + int64_t(bk) * p.seqK * p.headDim;
  const float* v = p.v + int64_t(bk) * p.seqK * p.valueDim;
  loadTile<BN, HD, Traits::kThreads>(ks, LD, k, p.seqK, p.headDim, key0, qkVector);
  loadTile<BN, HD, Traits::kThreads>(vs, LD, v, p.seqK, p.valueDim, key0, vVector);
  commitAsync();

  // Query rows that may see any key of this block.
  const int keyLast = min(key0 + BN, p.seqK);
  const int rowBegin = firstRowEndingAfter(p, key0);
  const int rowEnd = firstRowStartingAt(p, keyLast);

  float grad[KR][KC][4];  // dV in the first half of the warps, dK in the other
  zero(grad);

  // Steps walk the query tiles of every query head in the group; the next step's Q and dO are
  // copied (and its logsumexp and delta read into registers) while this one computes dQ.
  const int tiles = rowEnd > rowBegin ? (rowEnd - rowBegin + BM - 1) / BM : 0;
  const int steps = p.group * tiles;
  const int stepEnd = min(steps, stepLimit);
  static_assert(BM <= Traits::kThreads, "one thread per query row of lse and delta");
  float nextLse = INFINITY, nextDelta = 0.f;
  auto loadQueryTile = [&](int step) {
    const int bh = b * p.headsQ + hk * p.group + step / tiles, row0 = rowBegin + step % tiles * BM;
    loadTile<BM, HD, Traits::kThreads>(qs, LD, p.q + int64_t(bh) * p.seqQ * p.headDim, p.seqQ, p.headDim, row0,
                                       qkVector);
    loadTile<BM, HD, Traits::kThreads>(dos, LD, p.dout + int64_t(bh) * p.seqQ * p.valueDim, p.seqQ, p.valueDim, row0,
                                       vVector);
    commitAsync();
    const int i = row0 + threadIdx.x;
    if (threadIdx.x < BM) {
      // Rows past the end get lse = +inf: probability 0.
      nextLse = i < p.seqQ ? p.lse[int64_t(bh) * p.seqQ + i] * kLog2e : INFINITY;
      nextDelta = i < p.seqQ ? p.delta[int64_t(bh) * p.seqQ + i] : 0.f;
    }
  };
  if (stepBegin < stepEnd) loadQueryTile(stepBegin);

  for (int step = stepBegin; step < stepEnd; ++step) {
    const int member = step / tiles, row0 = rowBegin + step % tiles * BM;
    const int h = hk * p.group + member, bh = b * p.headsQ + h;
    const BiasRows biases(p, b, h);
    float* dbias = p.dbias ? p.dbias + b * p.biasStride[0] + h * p.biasStride[1] : nullptr;
    float* dwindow =
        p.dwindowBias ? p.dwindowBias + (b % p.numWindows) * p.windowStride[0] + h * p.windowStride[1] : nullptr;
    // The previous step's readers of lse2 and deltas passed the barrier before dQ.
    if (threadIdx.x < BM) {
      lse2[threadIdx.x] = nextLse;
      deltas[threadIdx.x] = nextDelta;
    }
    waitAsync<0>();
    // The block's K and V are rounded once; Q and dO here unless the row pass rounded them.
    if constexpr (Mma::kRoundsTiles) {
      if (step == stepBegin) {
        roundOwnChunks<BN, HD, Traits::kThreads>(ks, LD, qkVector);
        roundOwnChunks<BN, HD, Traits::kThreads>(vs, LD, vVector);
      }
      if (!queryTilesRounded) {
        roundOwnChunks<BM, HD, Traits::kThreads>(qs, LD, qkVector);
        roundOwnChunks<BM, HD, Traits::kThreads>(dos, LD, vVector);
      }
    }
    __syncthreads();

    const int sm0 = wm * 16, sn0 = wn * kScoreTiles * 8;
    const KeyRange firstRange = keyRange(p, row0), lastRange = keyRange(p, min(row0 + BM, p.seqQ) - 1);
    const bool fullTile = tileFullyVisible(firstRange, lastRange, key0, BN);
    int rows[2];
    KeyRange range[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      rows[r] = row0 + sm0 + g + 8 * r;
      range[r] = rows[r] < p.seqQ ? keyRange(p, rows[r]) : KeyRange{0, 0};
    }
    // Bias loads go out before the products so that their latency hides behind them.
    float bias[kScoreTiles][4];
    if (biases.any()) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, j = key0 + sn0 + n * 8 + 2 * t + (e & 1);
          const bool visible = fullTile || (j >= range[r].begin && j < range[r].end);
          bias[n][e] = visible ? biases.at(min(rows[r], p.seqQ - 1), j) * kLog2e : 0.f;
        }
    }

    float s[1][kScoreTiles][4], dp[1][kScoreTiles][4];
    zero(s);
    zero(dp);
    using Rows = TileRowMajor<Mma>;
    using Cols = TileColMajor<Mma>;
    constexpr int U = Traits::kGemmUnroll;
    warpGemm<Mma, 1, kScoreTiles, HD, U>(s, Rows{qs, LD}, Cols{ks, LD}, sm0, sn0, g, t);
    if constexpr (std::is_same_v<GradMma<Mma>, Mma>) {
      warpGemm<Mma, 1, kScoreTiles, HD, U>(dp, Rows{dos, LD}, Cols{vs, LD}, sm0, sn0, g, t);
    } else {
      warpGemm<GradMma<Mma>, 1, kScoreTiles, HD, U>(dp, RowMajor{dos, LD}, Bf16Rounded<ColMajor>{{vs, LD}}, sm0, sn0, g,
                                                    t);
    }

    // Scores in log2 units, masked entries -inf; masks, dropout and bias gradients run as loops
    // of their own under uniform branches, so that tiles without them spend nothing on them.
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[0][n][e] *= scaleLog2;
    if (biases.any()) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) s[0][n][e] += bias[n][e];
    }
    if (!fullTile) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, j = key0 + sn0 + n * 8 + 2 * t + (e & 1);
          if (!(j >= range[r].begin && j < range[r].end)) s[0][n][e] = -INFINITY;
        }
    }
    // Dropped entries: no dP, and no P in dV (whose 1 / (1 - rate) comes at the end); bit 4n + e.
    uint32_t dropped = 0;
    if (p.dropout) {
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const uint32_t dropState = dropoutRowState(p, bh, rows[r]);
#pragma unroll
        for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const int e = 2 * r + c;
            const bool keep = dropoutKeeps(p, dropState, key0 + sn0 + n * 8 + 2 * t + c);
            dp[0][n][e] = keep ? dp[0][n][e] * p.dropoutScale : 0.f;
            if (!keep) dropped |= 1u << (4 * n + e);
          }
      }
    }
    // dS = P (dP - delta) into dp; P and dS stored as the products will read them (rounded once
    // here, not per fragment).
#pragma unroll
    for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int rl = sm0 + g + 8 * (e / 2), jl = sn0 + n * 8 + 2 * t + (e & 1);
        const float prob = fastExp2(s[0][n][e] - lse2[rl]);
        dp[0][n][e] = prob * (dp[0][n][e] - deltas[rl]);
        dsts[jl * LDT + pairedPosition(rl)] =
            std::is_same_v<GradMma<Mma>, Mma> ? Mma::roundOperand(dp[0][n][e]) : dp[0][n][e];
        pts[jl * LDT + pairedPosition(rl)] = Mma::roundOperand(prob);
      }
    if (dropped != 0) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (dropped >> (4 * n + e) & 1u)
            pts[(sn0 + n * 8 + 2 * t + (e & 1)) * LDT + pairedPosition(sm0 + g + 8 * (e / 2))] = 0.f;
    }
    if (dbias != nullptr || dwindow != nullptr) {
#pragma unroll
      for (int n = 0; n < kScoreTiles; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int i = rows[e / 2], j = key0 + sn0 + n * 8 + 2 * t + (e & 1);
          const float ds = dp[0][n][e];
          if (ds == 0.f) continue;
          if (dbias) atomicAdd(dbias + i * p.biasStride[2] + j * p.biasStride[3], ds);
          if (dwindow) atomicAdd(dwindow + i * p.windowStride[2] + j * p.windowStride[3], ds);
        }
    }
    __syncthreads();

    // dV += P'ᵀ dO (first half of the warps) and dK += dSᵀ Q (the other) over this block's keys;
    // dQ += dS K over the query rows. Plain views where GradMma is not Mma: the tiles are not
    // rounded for it.
    using DsRows = std::conditional_t<std::is_same_v<GradMma<Mma>, Mma>, Rows, RowMajor>;
    using DsCols = std::conditional_t<std::is_same_v<GradMma<Mma>, Mma>, Cols, ColMajor>;
    if (!gradientGroup) {
      warpGemm<Mma, KR, KC, BM, U>(grad, Rows{pts, LDT}, PairedRows<Rows>{{dos, LD}}, km0, kn0, g, t);
    } else {
      warpGemm<GradMma<Mma>, KR, KC, BM, U>(grad, DsRows{dsts, LDT}, PairedRows<DsRows>{{qs, LD}}, km0, kn0, g, t);
    }
    // Every warp is done with this step's Q, dO, lse and delta: the next step's copies go out
    // and land while dQ is computed.
    __syncthreads();
    if (step + 1 < stepEnd) loadQueryTile(step + 1);
    // dQ's rows are dS's stored query positions, its keys in paired order.
    float dq[QR][QC][4];
    zero(dq);
    warpGemm<GradMma<Mma>, QR, QC, BN, U>(dq, PairedCols<DsCols>{{dsts, LDT}}, PairedRows<DsRows>{{ks, LD}}, qm0, qn0,
                                          g, t);
    storeQueryGradients(p, dq, bh, row0, qm0, qn0, g, t);
  }
  waitAsync<0>();  // the key tile's copies, when no query row sees this block

  // The first half of the warps writes dV, the other dK.
  const bool added = stepBegin > 0 || stepEnd < steps;
  if (gradientGroup) {
    storeKeyGradients(p.dk, p.headDim, int64_t(bk) * p.seqK, p.seqK, key0, grad, p.scale, added, km0, kn0, g, t);
  } else {
    storeKeyGradients(p.dv, p.valueDim, int64_t(bk) * p.seqK, p.seqK, key0, grad, p.dropoutScale, added, km0, kn0, g,
                      t);
  }
}

template <class Traits, class Mma, bool kStreamK>
__global__ void __launch_bounds__(Traits::kThreads, Traits::kMinBlocks)
    backwardKernel(const AttentionParams p, bool queryTilesRounded, const BackwardSchedule schedule) {
  if constexpr (!kStreamK) {
    backwardKeyBlock<Traits, Mma>(p, queryTilesRounded, blockIdx.x, 0, INT_MAX);
  } else {
    // Each part ends at a barrier: the next one's copies overwrite K, V and the query tiles.
    const int64_t unitEnd = schedule.firstUnit(blockIdx.x + 1);
    for (int64_t unit = schedule.firstUnit(blockIdx.x); unit < unitEnd;) {
      const int stepBegin = int(unit % schedule.stepsPerBlock);
      const int stepEnd = int(min(int64_t(schedule.stepsPerBlock), stepBegin + (unitEnd - unit)));
      backwardKeyBlock<Traits, Mma>(p, queryTilesRounded, unsigned(unit / schedule.stepsPerBlock), stepBegin, stepEnd);
      unit += stepEnd - stepBegin;
      __syncthreads();
    }
  }
}

// delta and dQ's zeroing, with the rounded copies of Q and dO when given (rowDotKernel).
template <class Mma>
cudaError_t launchRowPass(const AttentionParams& p, float* roundedQ, float* roundedDout, cudaStream_t stream) {
  const int64_t rows = int64_t(p.batch) * p.headsQ * p.seqQ;
  constexpr int kThreads = 256, kRowsPerBlock = kThreads / kRowLanes;
  const unsigned blocks = unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  const bool vectorized = p.headDim % 4 == 0 && p.valueDim % 4 == 0;
  if (roundedQ != nullptr) {
    (vectorized ? rowDotKernel<GradMma<Mma>, 4, true>
                : rowDotKernel<GradMma<Mma>, 1, true>)<<<blocks, kThreads, 0, stream>>>(p, roundedQ, roundedDout);
  } else {
    (vectorized ? rowDotKernel<GradMma<Mma>, 4, false>
                : rowDotKernel<GradMma<Mma>, 1, false>)<<<blocks, kThreads, 0, stream>>>(p, nullptr, nullptr);
  }
  return cudaGetLastError();
}

template <class Traits, class Mma, bool kStreamK>
cudaError_t launchKernel(const AttentionParams& p, bool queryTilesRounded, const BackwardSchedule& schedule,
                         cudaStream_t stream) {
  constexpr auto kernel = backwardKernel<Traits, Mma, kStreamK>;
  const cudaError_t allowed = allowSharedMemory<kernel>(Traits::kSmemBytes);
  if (allowed != cudaSuccess) return allowed;
  kernel<<<schedule.workers, Traits::kThreads, Traits::kSmemBytes, stream>>>(p, queryTilesRounded, schedule);
  return cudaGetLastError();
}

// Stream-K (BackwardSchedule) where streamKFits (kernel_heuristics.h); else a block per key block.
template <class Traits, class Mma>
cudaError_t backwardSchedule(const AttentionParams& p, int64_t blocks, BackwardSchedule* schedule) {
  const int stepsPerBlock = backwardStepsPerKeyBlock(p, Traits::kBlockM);
  if (!streamKCandidate(p, stepsPerBlock)) return cudaSuccess;
  static PerDevice<int64_t> residentBlocks;
  int64_t resident = 0;
  const cudaError_t status = residentBlocks.get(&resident, [](int64_t* value) {
    constexpr auto kernel = backwardKernel<Traits, Mma, true>;
    int multiprocessors = 0, perMultiprocessor = 0;
    cudaError_t status = allowSharedMemory<kernel>(Traits::kSmemBytes);
    if (status == cudaSuccess) status = multiprocessorCount(&multiprocessors);
    if (status == cudaSuccess)
      status = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perMultiprocessor, kernel, Traits::kThreads,
                                                             Traits::kSmemBytes);
    *value = int64_t(multiprocessors) * std::max(1, perMultiprocessor);
    return status;
  });
  if (status != cudaSuccess) return status;
  if (streamKFits(blocks, resident)) {
    schedule->workers = int(resident);
    schedule->stepsPerBlock = stepsPerBlock;
    schedule->units = blocks * stepsPerBlock;
  }
  return cudaSuccess;
}

template <class Traits, class Mma>
cudaError_t launch(const AttentionParams& p, Scratch& scratch, cudaStream_t stream) {
  const int64_t blocks = int64_t(p.batch) * p.headsKV * ((p.seqK + Traits::kBlockN - 1) / Traits::kBlockN);
  if (blocks > INT32_MAX) return cudaErrorInvalidConfiguration;
  BackwardSchedule schedule;
  schedule.workers = int(blocks);
  constexpr bool kStreamKPolicy = streamKPolicy(Mma::kPrecision);
  if constexpr (kStreamKPolicy) {
    const cudaError_t scheduled = backwardSchedule<Traits, Mma>(p, blocks, &schedule);
    if (scheduled != cudaSuccess) return scheduled;
  }
  float *roundedQ = nullptr, *roundedDout = nullptr;
  AttentionParams tiles = p;
  if (readsRoundedCopies(Mma::kRoundsTiles, p, Traits::kBlockN)) {
    const size_t rows = size_t(p.batch) * p.headsQ * p.seqQ;
    roundedQ = static_cast<float*>(scratch.allocate(rows * p.headDim * sizeof(float), "rounded queries"));
    roundedDout = static_cast<float*>(scratch.allocate(rows * p.valueDim * sizeof(float), "rounded output gradients"));
    tiles.q = roundedQ;
    tiles.dout = roundedDout;
  }
  cudaError_t status = launchRowPass<Mma>(p, roundedQ, roundedDout, stream);
  if (status != cudaSuccess) return status;
  const bool rounded = roundedQ != nullptr;
  if constexpr (kStreamKPolicy) {
    if (schedule.units > 0) {
      zeroSplitKeyBlocks<Traits::kBlockN><<<schedule.workers - 1, 256, 0, stream>>>(p, schedule);
      status = cudaGetLastError();
      return status != cudaSuccess ? status : launchKernel<Traits, Mma, true>(tiles, rounded, schedule, stream);
    }
  }
  return launchKernel<Traits, Mma, false>(tiles, rounded, schedule, stream);
}

template <class Mma>
cudaError_t launchWith(const AttentionParams& p, Scratch& scratch, cudaStream_t stream) {
  switch (paddedHeadDim(p)) {
    case 32: return launch<BackwardConfig<32>::type, Mma>(p, scratch, stream);
    case 64: return launch<BackwardConfig<64>::type, Mma>(p, scratch, stream);
    default: return launch<BackwardConfig<128>::type, Mma>(p, scratch, stream);
  }
}

}  // namespace

cudaError_t launchBackward(const AttentionParams& p, Precision precision, Scratch& scratch, cudaStream_t stream) {
  if (int64_t(p.batch) * p.headsKV * p.seqK == 0) {
    // No keys: dQ is zero (dK and dV are empty).
    return cudaMemsetAsync(p.dq, 0, size_t(p.batch) * p.headsQ * p.seqQ * p.headDim * 4, stream);
  }
  if (int64_t(p.batch) * p.headsQ * p.seqQ == 0) {
    // No query sees any key: dK and dV are zero.
    const cudaError_t err = cudaMemsetAsync(p.dk, 0, size_t(p.batch) * p.headsKV * p.seqK * p.headDim * 4, stream);
    return err != cudaSuccess ? err
                              : cudaMemsetAsync(p.dv, 0, size_t(p.batch) * p.headsKV * p.seqK * p.valueDim * 4, stream);
  }
  switch (precision) {
    case Precision::Highest: return launchWith<SplitTf32Mma>(p, scratch, stream);
    case Precision::BF16: return launchWith<Bf16Mma>(p, scratch, stream);
    default: return launchWith<Tf32Mma>(p, scratch, stream);
  }
}

}  // namespace attention
