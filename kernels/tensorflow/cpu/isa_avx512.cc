// The CPU core for AVX-512 (16 lanes), compiled with -mavx512f -mavx2 -mfma -mprfchw and run
// only where the CPU and the OS support AVX-512 (attention_cpu.cc checks at run time; every
// CPU with it has PREFETCHW).
#include <cstdint>
#include <utility>  // std::integer_sequence (clang's vector shuffles)

#include "attention_plan.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace tfjs_attention {
namespace cpu {
namespace avx512 {

typedef float VF __attribute__((vector_size(64)));
typedef int32_t VI __attribute__((vector_size(64)));
typedef uint32_t VU __attribute__((vector_size(64)));
enum : int { kLanes = 16, kMaxColumns = 4, kAccumulators = 24 };  // of 32 zmm registers
static const char kVariantName[] = "avx512";

static inline VF fmadd(VF a, VF b, VF c) { return (VF)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
static inline VF broadcast(float x) { return (VF)_mm512_set1_ps(x); }

#include "attention_tiles.inc"

}  // namespace avx512

const IsaKernels* avx512Kernels() { return &avx512::kKernels; }

}  // namespace cpu
}  // namespace tfjs_attention
#endif
