// The CPU core's worker threads: created on first use, kept, and shared by every call.
#pragma once
#include <functional>

namespace tfjs_attention {
namespace cpu {

// Runs work(slot) once for every slot in [0, slots), on the calling thread and up to
// slots − 1 pool threads, and returns when all have finished. While another call holds
// the pool (TensorFlow may run two ops at once), the caller runs every slot itself, in
// order: the slots, and so the results, are the same either way.
void runSlots(int slots, const std::function<void(int)>& work);

}  // namespace cpu
}  // namespace tfjs_attention
