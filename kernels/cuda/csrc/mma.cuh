// Warp-level matrix products on the tensor cores (mma.sync), one policy per precision:
//   Tf32Mma     — operands rounded to TF32, fp32 accumulate (m16n8k8).
//   SplitTf32Mma — 'highest': each operand split into a TF32 head and a TF32 tail and the
//                 three significant products summed, which keeps fp32 accuracy on tensor cores.
//   Bf16Mma     — operands rounded to bf16, fp32 accumulate (m16n8k16).
// Fragment layouts follow the PTX ISA's mma.m16n8k8 (.tf32) and mma.m16n8k16 (.bf16):
// lane = 4 g + t; accumulator element e sits at row g + 8 (e / 2), column 2 t + (e % 2).
#pragma once
#include <cuda_bf16.h>
#include <cstdint>
#include <type_traits>
#include "attention_common.cuh"

namespace attention {

// Shared-memory views; A(m, k) and B(k, n) of a product read through them.
struct RowMajor {
  const float* p;
  int ld;
  __device__ __forceinline__ float operator()(int r, int c) const { return p[r * ld + c]; }
};
struct ColMajor {
  const float* p;
  int ld;
  __device__ __forceinline__ float operator()(int r, int c) const { return p[c * ld + r]; }
};

// Views of tiles whose values were rounded to TF32 in place (roundOwnChunks), rows
// 16-byte aligned: Tf32Mma reads their fragments with ldmatrix and no conversion.
struct RoundedRowMajor {
  const float* p;
  int ld;
  __device__ __forceinline__ float operator()(int r, int c) const { return p[r * ld + c]; }
};
struct RoundedColMajor {
  const float* p;
  int ld;
  __device__ __forceinline__ float operator()(int r, int c) const { return p[c * ld + r]; }
};

// The order in which an accumulator row holds its 8 columns, as the inner index of a product
// sees them: within each group of 8, logical k = t stands for index 2t and k = t + 4 for 2t + 1.
// Products may sum in any order; this one lets accumulators feed A with no shuffles, and lets
// threads of one k read rows 2t, 2t + 1 of a tile padded by 4 floats on distinct banks.
__device__ __forceinline__ int pairedIndex(int k) { return (k & ~7) | ((k & 3) << 1) | ((k >> 2) & 1); }
// Where index i goes so that pairedIndex finds it: the inverse within each group of 8.
__device__ __forceinline__ int pairedPosition(int i) { return (i & ~7) | ((i & 7) >> 1) | ((i & 1) << 2); }

// B(k, n) with the inner index k read in paired order.
template <class View>
struct PairedRows {
  View view;
  __device__ __forceinline__ float operator()(int r, int c) const { return view(pairedIndex(r), c); }
};
// A(m, k) with the inner index k read in paired order.
template <class View>
struct PairedCols {
  View view;
  __device__ __forceinline__ float operator()(int r, int c) const { return view(r, pairedIndex(c)); }
};

// V transposed to [dim][key] with the keys of each group of 8 at pairedPosition, rounded to
// TF32: B of P·V in the accumulators' key order is its plain column-major read (ldmatrix).
struct PairedTransposed {
  const float* p;
  int ld;
};

// Four 8 × 4 blocks of 32-bit words (ldmatrix counts them as 8 × 8 halves); lanes 8m..8m+7
// give the row addresses of block m, and block m lands in r[m] as word (lane % 4) of row lane / 4.
__device__ __forceinline__ void loadMatrices(uint32_t (&r)[4], const float* rowAddress) {
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(rowAddress));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

// Round to nearest; sm_90 has the ties-to-even form, older GPUs the ties-away one.
__device__ __forceinline__ uint32_t toTf32(float x) {
  uint32_t r;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm("cvt.rn.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
#else
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
#endif
  return r;
}

__device__ __forceinline__ uint32_t packBf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

__device__ __forceinline__ void mmaTf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void mmaBf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Fragments of m16n8k8 products gathered element by element through a View and packed
// by the policy's makeA / makeB (CRTP: the 32-bit policies share this, bf16 packs pairs).
template <class Policy>
struct ElementwiseFragments {
  template <class View>
  static __device__ __forceinline__ auto loadA(View v, int m0, int k0, int g, int t) {
    return Policy::makeA(v(m0 + g, k0 + t), v(m0 + g + 8, k0 + t), v(m0 + g, k0 + t + 4), v(m0 + g + 8, k0 + t + 4));
  }
  template <class View>
  static __device__ __forceinline__ auto loadB(View v, int k0, int n0, int g, int t) {
    return Policy::makeB(v(k0 + t, n0 + g), v(k0 + t + 4, n0 + g));
  }
  template <class View, class Fragment>
  static __device__ __forceinline__ void loadB2(View v, int k0, int n0, int g, int t, Fragment& b0, Fragment& b1) {
    // Through the policy, so that its overloads for particular views still apply.
    b0 = Policy::loadB(v, k0, n0, g, t);
    b1 = Policy::loadB(v, k0, n0 + 8, g, t);
  }
};

struct Tf32Mma : ElementwiseFragments<Tf32Mma> {
  static constexpr int kStep = 8;
  static constexpr Precision kPrecision = Precision::TF32;
  // Kernels round shared tiles to TF32 once (roundOwnChunks) and read them through the
  // Rounded views, instead of converting every fragment element on every load.
  static constexpr bool kRoundsTiles = true;
  struct A {
    uint32_t x[4];
  };
  struct B {
    uint32_t x[2];
  };
  // a0..a3 at (g, t), (g + 8, t), (g, t + 4), (g + 8, t + 4).
  static __device__ __forceinline__ A makeA(float a0, float a1, float a2, float a3) {
    return {{toTf32(a0), toTf32(a1), toTf32(a2), toTf32(a3)}};
  }
  // b0, b1 at (k = t, n = g), (k = t + 4, n = g).
  static __device__ __forceinline__ B makeB(float b0, float b1) { return {{toTf32(b0), toTf32(b1)}}; }
  static __device__ __forceinline__ void mma(float (&d)[4], const A& a, const B& b) { mmaTf32(d, a.x, b.x); }

  using ElementwiseFragments::loadA;
  using ElementwiseFragments::loadB;
  using ElementwiseFragments::loadB2;
  // Rounded tiles read across rows (no ldmatrix for 32-bit transposes), in paired order: the
  // bits as they are.
  static __device__ __forceinline__ B loadB(PairedRows<RoundedRowMajor> v, int k0, int n0, int g, int t) {
    return {{__float_as_uint(v.view(k0 + 2 * t, n0 + g)), __float_as_uint(v.view(k0 + 2 * t + 1, n0 + g))}};
  }
  static __device__ __forceinline__ A loadA(PairedCols<RoundedColMajor> v, int m0, int k0, int g, int t) {
    const RoundedColMajor x = v.view;
    return {{__float_as_uint(x(m0 + g, k0 + 2 * t)), __float_as_uint(x(m0 + g + 8, k0 + 2 * t)),
             __float_as_uint(x(m0 + g, k0 + 2 * t + 1)), __float_as_uint(x(m0 + g + 8, k0 + 2 * t + 1))}};
  }
  static __device__ __forceinline__ A loadA(RoundedRowMajor v, int m0, int k0, int g, int t) {
    const int lane = 4 * g + t;
    A a;
    loadMatrices(a.x, v.p + (m0 + lane % 8 + 8 * ((lane / 8) & 1)) * v.ld + k0 + 4 * (lane / 16));
    return a;
  }
  // Two 8-column tiles at once: blocks are (n0, k0), (n0, k0 + 4), (n0 + 8, k0), (n0 + 8, k0 + 4).
  static __device__ __forceinline__ void loadB2(RoundedColMajor v, int k0, int n0, int g, int t, B& b0, B& b1) {
    const int lane = 4 * g + t;
    uint32_t r[4];
    loadMatrices(r, v.p + (n0 + lane % 8 + 8 * (lane / 16)) * v.ld + k0 + 4 * ((lane / 8) & 1));
    b0 = {{r[0], r[1]}};
    b1 = {{r[2], r[3]}};
  }
  // Probabilities held as accumulators (8 keys per tile) used as A of P·V, keys in paired
  // order (pairedIndex): no shuffles, and B reads value rows 2t and 2t + 1 to match.
  static constexpr int kAccTilesPerStep = 1;
  // The probabilities as a TF32 head plus a TF32 tail (two products), so that the output
  // carries the probabilities at fp32 accuracy; see attentionOutputMma. The head is truncated
  // (one instruction; sm_90 spends three on a rounding conversion) and the tail goes in
  // unconverted, the tensor cores dropping its low 13 bits: P is off by at most 2^-20 of itself,
  // far under what fp32's cancellation needs.
  static __device__ __forceinline__ void splitAccToA(const float (*acc)[4], int step, A& hi, A& lo) {
    const float* c = acc[step];
    const float head[4] = {
        __uint_as_float(__float_as_uint(c[0]) & 0xffffe000u), __uint_as_float(__float_as_uint(c[2]) & 0xffffe000u),
        __uint_as_float(__float_as_uint(c[1]) & 0xffffe000u), __uint_as_float(__float_as_uint(c[3]) & 0xffffe000u)};
    hi = {{__float_as_uint(head[0]), __float_as_uint(head[1]), __float_as_uint(head[2]), __float_as_uint(head[3])}};
    lo = {{__float_as_uint(c[0] - head[0]), __float_as_uint(c[2] - head[1]), __float_as_uint(c[1] - head[2]),
           __float_as_uint(c[3] - head[3])}};
  }
  template <class View>
  static __device__ __forceinline__ B loadBForAcc(View v, int k0, int n0, int g, int t) {
    return loadB(PairedRows<View>{v}, k0, n0, g, t);
  }
  static __device__ __forceinline__ void loadB2ForAcc(PairedTransposed v, int k0, int n0, int g, int t, B& b0, B& b1) {
    loadB2(RoundedColMajor{v.p, v.ld}, k0, n0, g, t, b0, b1);
  }
  // The value an operand has inside the product.
  static __device__ __forceinline__ float roundOperand(float x) { return __uint_as_float(toTf32(x)); }
};

struct SplitTf32Mma : ElementwiseFragments<SplitTf32Mma> {
  static constexpr int kStep = 8;
  static constexpr Precision kPrecision = Precision::Highest;
  static constexpr bool kRoundsTiles = false;
  struct A {
    uint32_t hi[4], lo[4];
  };
  struct B {
    uint32_t hi[2], lo[2];
  };
  static __device__ __forceinline__ void split(float x, uint32_t& hi, uint32_t& lo) {
    hi = toTf32(x);
    lo = toTf32(x - __uint_as_float(hi));
  }
  static __device__ __forceinline__ A makeA(float a0, float a1, float a2, float a3) {
    A a;
    split(a0, a.hi[0], a.lo[0]);
    split(a1, a.hi[1], a.lo[1]);
    split(a2, a.hi[2], a.lo[2]);
    split(a3, a.hi[3], a.lo[3]);
    return a;
  }
  static __device__ __forceinline__ B makeB(float b0, float b1) {
    B b;
    split(b0, b.hi[0], b.lo[0]);
    split(b1, b.hi[1], b.lo[1]);
    return b;
  }
  static __device__ __forceinline__ void mma(float (&d)[4], const A& a, const B& b) {
    mmaTf32(d, a.lo, b.hi);
    mmaTf32(d, a.hi, b.lo);
    mmaTf32(d, a.hi, b.hi);
  }
  using ElementwiseFragments::loadA;
  using ElementwiseFragments::loadB;
  using ElementwiseFragments::loadB2;
  static constexpr int kAccTilesPerStep = 1;
  static __device__ __forceinline__ A accToA(const float (*acc)[4], int step) {
    const float* c = acc[step];
    return makeA(c[0], c[2], c[1], c[3]);
  }
  template <class View>
  static __device__ __forceinline__ B loadBForAcc(View v, int k0, int n0, int g, int t) {
    return loadB(PairedRows<View>{v}, k0, n0, g, t);
  }
  static __device__ __forceinline__ float roundOperand(float x) { return x; }
};

struct Bf16Mma {
  static constexpr int kStep = 16;
  static constexpr Precision kPrecision = Precision::BF16;
  static constexpr bool kRoundsTiles = false;
  struct A {
    uint32_t x[4];
  };
  struct B {
    uint32_t x[2];
  };
  static __device__ __forceinline__ void mma(float (&d)[4], const A& a, const B& b) { mmaBf16(d, a.x, b.x); }

  // A pairs: rows g / g + 8, columns 2t, 2t + 1 and 2t + 8, 2t + 9.
  template <class View>
  static __device__ __forceinline__ A loadA(View v, int m0, int k0, int g, int t) {
    const int r0 = m0 + g, r1 = m0 + g + 8, c0 = k0 + 2 * t, c1 = k0 + 2 * t + 8;
    return {{packBf16(v(r0, c0), v(r0, c0 + 1)), packBf16(v(r1, c0), v(r1, c0 + 1)), packBf16(v(r0, c1), v(r0, c1 + 1)),
             packBf16(v(r1, c1), v(r1, c1 + 1))}};
  }
  // B pairs: k = 2t, 2t + 1 and 2t + 8, 2t + 9 at column g.
  template <class View>
  static __device__ __forceinline__ B loadB(View v, int k0, int n0, int g, int t) {
    const int n = n0 + g, c0 = k0 + 2 * t, c1 = k0 + 2 * t + 8;
    return {{packBf16(v(c0, n), v(c0 + 1, n)), packBf16(v(c1, n), v(c1 + 1, n))}};
  }
  template <class View>
  static __device__ __forceinline__ void loadB2(View v, int k0, int n0, int g, int t, B& b0, B& b1) {
    b0 = loadB(v, k0, n0, g, t);
    b1 = loadB(v, k0, n0 + 8, g, t);
  }
  // Two accumulator tiles (16 keys) form one A fragment with no reordering.
  static constexpr int kAccTilesPerStep = 2;
  static __device__ __forceinline__ A accToA(const float (*acc)[4], int step) {
    const float* c = acc[2 * step];
    const float* d = acc[2 * step + 1];
    return {{packBf16(c[0], c[1]), packBf16(c[2], c[3]), packBf16(d[0], d[1]), packBf16(d[2], d[3])}};
  }
  static __device__ __forceinline__ float bf16Tail(float x) { return x - __bfloat162float(__float2bfloat16_rn(x)); }
  static __device__ __forceinline__ void splitAccToA(const float (*acc)[4], int step, A& hi, A& lo) {
    hi = accToA(acc, step);
    const float* c = acc[2 * step];
    const float* d = acc[2 * step + 1];
    lo = {{packBf16(bf16Tail(c[0]), bf16Tail(c[1])), packBf16(bf16Tail(c[2]), bf16Tail(c[3])),
           packBf16(bf16Tail(d[0]), bf16Tail(d[1])), packBf16(bf16Tail(d[2]), bf16Tail(d[3]))}};
  }
  template <class View>
  static __device__ __forceinline__ B loadBForAcc(View v, int k0, int n0, int g, int t) {
    return loadB(v, k0, n0, g, t);
  }
  static __device__ __forceinline__ float roundOperand(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }
};

// O += P · V for one warp's 16 rows, P held as score accumulators (kScoreTiles tiles of 8
// keys). Why P goes in at fp32 accuracy: the backward pass takes delta = dO · O for
// Σ_j P_ij dP_ij, where its dP rounds dO and V as the products do; with P unrounded here,
// both sides agree to fp32 rounding, dS = P (dP - delta) sums to zero over each row as it
// must, and gradients that vanish (a bias constant along the keys) come out near zero. The
// split policy is fp32-accurate throughout and needs no tail.
template <class Mma, int kScoreTiles, int kOutTiles, class View>
__device__ __forceinline__ void attentionOutputMma(float (&o)[kOutTiles][4], const float (&p)[1][kScoreTiles][4],
                                                   View v, int g, int t) {
  // Four output tiles at a time, tails first: consecutive products never feed one another.
  constexpr int kGroup = 4;
  static_assert(kOutTiles % kGroup == 0, "output tiles come in groups of four");
#pragma unroll
  for (int step = 0; step < kScoreTiles / Mma::kAccTilesPerStep; ++step) {
    typename Mma::A hi, lo;
    if constexpr (std::is_same_v<Mma, SplitTf32Mma>) {
      hi = Mma::accToA(p[0], step);
    } else {
      Mma::splitAccToA(p[0], step, hi, lo);
    }
#pragma unroll
    for (int n0 = 0; n0 < kOutTiles; n0 += kGroup) {
      typename Mma::B b[kGroup];
      if constexpr (std::is_same_v<View, PairedTransposed>) {
#pragma unroll
        for (int n = 0; n < kGroup; n += 2) Mma::loadB2ForAcc(v, step * Mma::kStep, (n0 + n) * 8, g, t, b[n], b[n + 1]);
      } else {
#pragma unroll
        for (int n = 0; n < kGroup; ++n) b[n] = Mma::loadBForAcc(v, step * Mma::kStep, (n0 + n) * 8, g, t);
      }
      if constexpr (!std::is_same_v<Mma, SplitTf32Mma>) {
#pragma unroll
        for (int n = 0; n < kGroup; ++n) Mma::mma(o[n0 + n], lo, b[n]);
      }
#pragma unroll
      for (int n = 0; n < kGroup; ++n) Mma::mma(o[n0 + n], hi, b[n]);
    }
  }
}

// The policy of the backward products that make and use dS (dP = dO Vᵀ, dK = dSᵀ Q,
// dQ = dS K). dS = P (dP - delta) comes out of a cancellation, and bf16's 8-bit mantissa there
// costs dQ and dK more accuracy than the 'bf16' mode promises (1e-2): they run in TF32.
template <class Mma>
using GradMma = std::conditional_t<std::is_same_v<Mma, Bf16Mma>, Tf32Mma, Mma>;

// A view whose values are rounded to bf16, for the value operand of dP under 'bf16': the
// forward pass multiplied P by bf16 values, and delta = dO · O must match Σ_j P dP.
template <class View>
struct Bf16Rounded {
  View view;
  __device__ __forceinline__ float operator()(int r, int c) const {
    return __bfloat162float(__float2bfloat16_rn(view(r, c)));
  }
};

template <Precision P>
struct MmaFor;
template <>
struct MmaFor<Precision::Highest> {
  using type = SplitTf32Mma;
};
template <>
struct MmaFor<Precision::TF32> {
  using type = Tf32Mma;
};
template <>
struct MmaFor<Precision::BF16> {
  using type = Bf16Mma;
};

// acc[MT][NT] += A[m0 : m0 + 16 MT, 0 : kDim] · B[0 : kDim, n0 : n0 + 8 NT], one warp; the k loop
// unrolled kUnroll times (kernel traits: full where registers allow it).
template <class Mma, int MT, int NT, int kDim, int kUnroll, class ViewA, class ViewB>
__device__ __forceinline__ void warpGemm(float (&acc)[MT][NT][4], ViewA a, ViewB b, int m0, int n0, int g, int t) {
#pragma unroll kUnroll
  for (int k0 = 0; k0 < kDim; k0 += Mma::kStep) {
    typename Mma::A af[MT];
#pragma unroll
    for (int mi = 0; mi < MT; ++mi) af[mi] = Mma::loadA(a, m0 + 16 * mi, k0, g, t);
    static_assert(NT % 2 == 0, "column tiles come in pairs");
#pragma unroll
    for (int ni = 0; ni < NT; ni += 2) {
      typename Mma::B b0, b1;
      Mma::loadB2(b, k0, n0 + 8 * ni, g, t, b0, b1);
#pragma unroll
      for (int mi = 0; mi < MT; ++mi) {
        Mma::mma(acc[mi][ni], af[mi], b0);
        Mma::mma(acc[mi][ni + 1], af[mi], b1);
      }
    }
  }
}

// Rounds to TF32 the parts of a tile that loadTile<kRows, kCols, kThreads> gave this thread:
// visible to it once its copies are waited for, so no barrier comes between.
template <int kRows, int kCols, int kThreads>
__device__ __forceinline__ void roundOwnChunks(float* smem, int ld, bool vectorized) {
  if (vectorized) {
    using Chunks = TileChunks<kRows, kCols, kThreads>;
    float* row = smem + Chunks::row() * ld + Chunks::col();
#pragma unroll
    for (int i = 0; i < Chunks::kPasses; ++i) {
      float4* x = reinterpret_cast<float4*>(row + i * Chunks::kRowsPerPass * ld);
      float4 v = *x;
      v.x = __uint_as_float(toTf32(v.x));
      v.y = __uint_as_float(toTf32(v.y));
      v.z = __uint_as_float(toTf32(v.z));
      v.w = __uint_as_float(toTf32(v.w));
      *x = v;
    }
  } else {
    for (int c = threadIdx.x; c < kRows * kCols; c += kThreads) {
      float* x = smem + c / kCols * ld + c % kCols;
      *x = __uint_as_float(toTf32(*x));
    }
  }
}

// The views a kernel reads its shared tiles through: rounded ones where the policy rounds tiles.
template <class Mma>
using TileRowMajor = std::conditional_t<Mma::kRoundsTiles, RoundedRowMajor, RowMajor>;
template <class Mma>
using TileColMajor = std::conditional_t<Mma::kRoundsTiles, RoundedColMajor, ColMajor>;

template <int NT>
__device__ __forceinline__ void zero(float (&acc)[NT][4]) {
#pragma unroll
  for (int ni = 0; ni < NT; ++ni)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[ni][e] = 0.f;
}

template <int MT, int NT>
__device__ __forceinline__ void zero(float (&acc)[MT][NT][4]) {
#pragma unroll
  for (int mi = 0; mi < MT; ++mi)
#pragma unroll
    for (int ni = 0; ni < NT; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.f;
}

}  // namespace attention
