// The CPU core for any target: 4-lane vectors of GCC's vector extensions, which become
// SSE2 on x86-64 and NEON on aarch64, compiled without extra flags.
#include <cstdint>
#include <utility>  // std::integer_sequence (clang's vector shuffles)

#include "attention_plan.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace tfjs_attention {
namespace cpu {
namespace portable {

typedef float VF __attribute__((vector_size(16)));
typedef int32_t VI __attribute__((vector_size(16)));
typedef uint32_t VU __attribute__((vector_size(16)));
enum : int { kLanes = 4, kMaxColumns = 2, kAccumulators = 12 };  // of 16 (SSE) or 32 (NEON) registers
static const char kVariantName[] = "portable";

#if defined(__aarch64__)
static inline VF fmadd(VF a, VF b, VF c) { return (VF)vfmaq_f32((float32x4_t)c, (float32x4_t)a, (float32x4_t)b); }
static inline VF broadcast(float x) { return (VF)vdupq_n_f32(x); }
#else
static inline VF fmadd(VF a, VF b, VF c) { return a * b + c; }
static inline VF broadcast(float x) { return VF{x, x, x, x}; }
#endif

#include "attention_tiles.inc"

}  // namespace portable

const IsaKernels* portableKernels() { return &portable::kKernels; }

}  // namespace cpu
}  // namespace tfjs_attention
