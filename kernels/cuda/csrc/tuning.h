// The tuning switches, all in one place: each is a default that `build.mjs --define=NAME=VALUE`
// overrides, so that the benchmark can compare a variant's build against the default one
// (device_run.sh variant). What each setting measured is in benchmarks/cuda/NOTES.md.
// Tile shapes built from them are in kernel_traits.cuh; which kernel runs a call, in
// kernel_heuristics.h.
#pragma once

// The tiled forward (forward.cu): keys per tile at head dims 64 and 128; at head dim 32 with a
// bias, keys per tile and the blocks per multiprocessor the registers must allow.
#ifndef FORWARD_64_BLOCK_N
#define FORWARD_64_BLOCK_N 64
#endif
#ifndef FORWARD_128_BLOCK_N
#define FORWARD_128_BLOCK_N 64
#endif
#ifndef FORWARD_32_BIAS_BLOCK_N
#define FORWARD_32_BIAS_BLOCK_N 64
#endif
#ifndef FORWARD_32_BIAS_MIN_BLOCKS
#define FORWARD_32_BIAS_MIN_BLOCKS 4
#endif

// The Hopper forward (forward_wgmma.cu): whether 'tf32' forwards take it where it fits and
// runs; at head dim 64, consumer warpgroups and key and value stages (0 value stages: values
// share the key stages); at head dim 128, key and value stages.
#ifndef FORWARD_WGMMA
#define FORWARD_WGMMA 1
#endif
#ifndef WGMMA_FORWARD_64_CONSUMERS
#define WGMMA_FORWARD_64_CONSUMERS 2
#endif
#ifndef WGMMA_FORWARD_64_KEY_STAGES
#define WGMMA_FORWARD_64_KEY_STAGES 4
#endif
#ifndef WGMMA_FORWARD_64_VALUE_STAGES
#define WGMMA_FORWARD_64_VALUE_STAGES 0
#endif
#ifndef WGMMA_FORWARD_128_KEY_STAGES
#define WGMMA_FORWARD_128_KEY_STAGES 2
#endif
#ifndef WGMMA_FORWARD_128_VALUE_STAGES
#define WGMMA_FORWARD_128_VALUE_STAGES 2
#endif

// The short-sequence forward (forward_short.cu): blocks per multiprocessor at head dim 32,
// without and with the bias held across windows, and whether a bias is ever held.
#ifndef SHORT_FORWARD_32_MIN_BLOCKS
#define SHORT_FORWARD_32_MIN_BLOCKS 4
#endif
#ifndef SHORT_FORWARD_32_HELD_MIN_BLOCKS
#define SHORT_FORWARD_32_HELD_MIN_BLOCKS 3
#endif
#ifndef SHORT_FORWARD_HELD_BIAS
#define SHORT_FORWARD_HELD_BIAS 1
#endif

// The backward (backward.cu): blocks per multiprocessor at head dim 64, warps per block at
// head dim 128, and whether 'tf32' backwards may run stream-K.
#ifndef BACKWARD_64_MIN_BLOCKS
#define BACKWARD_64_MIN_BLOCKS 2
#endif
#ifndef BACKWARD_128_WARPS
#define BACKWARD_128_WARPS 8
#endif
#ifndef BACKWARD_STREAM_K
#define BACKWARD_STREAM_K 1
#endif

namespace attention {

constexpr bool kForwardWgmma = FORWARD_WGMMA != 0;
constexpr bool kShortForwardHeldBias = SHORT_FORWARD_HELD_BIAS != 0;
constexpr bool kStreamKBackward = BACKWARD_STREAM_K != 0;

}  // namespace attention
