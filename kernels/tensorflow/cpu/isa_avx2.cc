// The CPU core for AVX2 with FMA (8 lanes), compiled with -mavx2 -mfma and run only where
// the CPU and the OS support them (attention_cpu.cc checks at run time).
#include <cstdint>
#include <utility>  // std::integer_sequence (clang's vector shuffles)

#include "attention_plan.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace tfjs_attention {
namespace cpu {
namespace avx2 {

typedef float VF __attribute__((vector_size(32)));
typedef int32_t VI __attribute__((vector_size(32)));
typedef uint32_t VU __attribute__((vector_size(32)));
enum : int { kLanes = 8, kMaxColumns = 2, kAccumulators = 12 };  // of 16 ymm registers
static const char kVariantName[] = "avx2";

static inline VF fmadd(VF a, VF b, VF c) { return (VF)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
static inline VF broadcast(float x) { return (VF)_mm256_set1_ps(x); }

#include "attention_tiles.inc"

}  // namespace avx2

const IsaKernels* avx2Kernels() { return &avx2::kKernels; }

}  // namespace cpu
}  // namespace tfjs_attention
#endif
