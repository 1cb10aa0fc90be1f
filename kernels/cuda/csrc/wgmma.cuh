// Hopper (sm_90a) pieces of the TF32 forward (forward_wgmma.cu): warpgroup products (wgmma),
// shared-memory barriers with bulk copies, and register reallocation between warpgroups.
// Operands in shared memory use the no-swizzle core-matrix layout: a core matrix is 8 rows of
// 16 bytes (4 TF32 values along the inner index k), stored as 128 contiguous bytes; a tile
// [rows][cols] keeps its core matrices along k next to each other and its 8-row groups
// cols · 32 bytes apart. Filled in order in 16-byte chunks, it needs no swizzle to be free of
// bank conflicts, and each k step of 8 is the next 256 bytes.
#pragma once
#include <cstdint>

namespace attention {

// The matrix descriptor of a K-major operand in the core-matrix layout: start address, the
// step between core matrices along k (128 bytes) and between 8-row groups (kCols · 32 bytes).
template <int kCols>
__device__ __forceinline__ uint64_t coreTileDescriptor(const float* tile) {
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(tile));
  constexpr uint64_t kLeading = 128 >> 4, kStride = (kCols * 32) >> 4;
  return uint64_t((address & 0x3ffff) >> 4) | kLeading << 16 | kStride << 32;
}
// The descriptor of k step `step` (8 columns further: 256 bytes, 16 in the address field).
__device__ __forceinline__ uint64_t advanceK(uint64_t descriptor, int step) { return descriptor + uint64_t(16 * step); }

// Orders this warpgroup's register accesses before the products that follow.
__device__ __forceinline__ void wgmmaFence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmmaCommit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Keeps the compiler from moving other instructions' accesses to accumulators d across this
// point (into a product's pipeline stage, where ptxas would then serialize the products).
template <int kTiles>
__device__ __forceinline__ void pinAccumulators(float (&d)[kTiles][4]) {
#pragma unroll
  for (int n = 0; n < kTiles; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[n][e])::"memory");
}
// Makes this thread's ordinary shared-memory stores visible to the tensor cores' reads
// (the async proxy); a barrier after it covers the other threads.
__device__ __forceinline__ void fenceAsyncProxy() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// The 32 accumulator operands of eight 8-column tiles d[n0] .. d[n0 + 7], for the products below.
#define WGMMA_ACCUMULATOR_TILE(d, n) "+f"(d[n][0]), "+f"(d[n][1]), "+f"(d[n][2]), "+f"(d[n][3])
#define WGMMA_ACCUMULATOR_TILES_8(d, n0)                                                                       \
  WGMMA_ACCUMULATOR_TILE(d, n0), WGMMA_ACCUMULATOR_TILE(d, n0 + 1), WGMMA_ACCUMULATOR_TILE(d, n0 + 2),         \
      WGMMA_ACCUMULATOR_TILE(d, n0 + 3), WGMMA_ACCUMULATOR_TILE(d, n0 + 4), WGMMA_ACCUMULATOR_TILE(d, n0 + 5), \
      WGMMA_ACCUMULATOR_TILE(d, n0 + 6), WGMMA_ACCUMULATOR_TILE(d, n0 + 7)

// d[64 × 64] (+)= A[64 × 8] · B[8 × 64], A and B in shared memory; accumulate unless `zero`.
__device__ __forceinline__ void wgmmaShared64(float (&d)[8][4], uint64_t a, uint64_t b, bool zero) {
  asm volatile(
      "{\n.reg .pred keep;\nsetp.eq.u32 keep, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
      "%24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, keep, 1, 1;\n}\n"
      : WGMMA_ACCUMULATOR_TILES_8(d, 0)
      : "l"(a), "l"(b), "r"(uint32_t(zero)));
}

// d[64 × 64] += A[64 × 8] · B[8 × 64], A in registers (the m16n8k8 A fragment of each warp's 16
// rows), B in shared memory.
__device__ __forceinline__ void wgmmaRegisters64(float (&d)[8][4], const uint32_t (&a)[4], uint64_t b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
      "%24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, 1, 1, 1;\n"
      : WGMMA_ACCUMULATOR_TILES_8(d, 0)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
}

// d[64 × 128] += A[64 × 8] · B[8 × 128], A in registers as for wgmmaRegisters64.
__device__ __forceinline__ void wgmmaRegisters128(float (&d)[16][4], const uint32_t (&a)[4], uint64_t b) {
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
      "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, "
      "%46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, {%64, %65, %66, "
      "%67}, %68, 1, 1, 1;\n"
      : WGMMA_ACCUMULATOR_TILES_8(d, 0), WGMMA_ACCUMULATOR_TILES_8(d, 8)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b));
}

// Shared-memory barriers (mbarrier) and bulk copies that complete on them: the producer/consumer
// pipeline of forward_wgmma.cu.
__device__ __forceinline__ uint32_t sharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void barrierInit(uint64_t* barrier, int arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(sharedAddress(barrier)), "r"(arrivals) : "memory");
}
// Makes the initialized barriers visible to the other threads and the async proxy (before a __syncthreads).
__device__ __forceinline__ void barrierInitFence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
__device__ __forceinline__ void barrierArrive(uint64_t* barrier) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(sharedAddress(barrier)) : "memory");
}
// Arrives and announces `bytes` of bulk copies that will complete this phase.
__device__ __forceinline__ void barrierArriveExpect(uint64_t* barrier, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(sharedAddress(barrier)), "r"(bytes)
               : "memory");
}
// Waits until the barrier's phase of parity `parity` has completed.
__device__ __forceinline__ void barrierWait(uint64_t* barrier, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nwait:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait;\n}\n" ::"r"(sharedAddress(barrier)),
      "r"(parity)
      : "memory");
}
// Copies `bytes` (a multiple of 16, both addresses 16-byte aligned) from global to shared memory
// on the copy engine; the barrier's transaction count falls by `bytes` when they have landed.
__device__ __forceinline__ void bulkCopy(void* smem, const void* gmem, uint32_t bytes, uint64_t* barrier) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
                   sharedAddress(smem)),
               "l"(gmem), "r"(bytes), "r"(sharedAddress(barrier))
               : "memory");
}
// Moves this warpgroup's register allocation to kRegisters (a multiple of 8 in 24..256): the
// producer gives registers back, the consumers take them.
template <int kRegisters, bool kIncrease>
__device__ __forceinline__ void setMaxRegisters() {
  if constexpr (kIncrease) {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
  } else {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegisters));
  }
}
// Synchronizes the `threads` threads (whole warps) that name barrier `id` (1..15; 0 is __syncthreads).
__device__ __forceinline__ void namedBarrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace attention
