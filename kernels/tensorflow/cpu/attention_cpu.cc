// The CPU core's entry points: resolve a call into a Plan (padded and transposed operand
// copies where the tiles need them), pick the instruction-set variant, and spread the
// variant's tile tasks over the thread pool in a race-free, deterministic split.
#include "attention_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "attention_plan.h"
#include "thread_pool.h"

namespace tfjs_attention {
namespace cpu {
namespace {

std::vector<const IsaKernels*> availableKernels() {
  std::vector<const IsaKernels*> list;
#if defined(__x86_64__)
  // libgcc's detection also checks that the OS saves the wide registers (XGETBV).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) list.push_back(avx512Kernels());
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) list.push_back(avx2Kernels());
#endif
  list.push_back(portableKernels());
  return list;
}

const IsaKernels* kernelsNamed(const std::string& name) {
  for (const IsaKernels* kernels : availableKernels()) {
    if (name == kernels->name) return kernels;
  }
  return nullptr;
}

std::atomic<const IsaKernels*>& selectedKernels() {
  static std::atomic<const IsaKernels*> selected{[] {
    const char* requested = std::getenv("TFJS_ATTENTION_SIMD");
    const IsaKernels* named = requested != nullptr ? kernelsNamed(requested) : nullptr;
    return named != nullptr ? named : availableKernels().front();
  }()};
  return selected;
}

int resolveThreads(int numThreads) {
  if (numThreads > 0) return numThreads;
  // Resolved once: hardware_concurrency() reads /sys on Linux, which took 35–110 µs of each
  // call inside tfjs-node on the 2-core machine of benchmarks/RESULTS.md.
  static const int setting = [] {
    if (const char* value = std::getenv("TFJS_ATTENTION_THREADS")) {
      const int n = std::atoi(value);
      if (n > 0) return n;
    }
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware > 0 ? static_cast<int>(hardware) : 1;
  }();
  return setting;
}

int64_t roundUp(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// Scratch memory kept between calls: each fresh page costs a page fault on first touch,
// which measured as a large share of a backward call, so released buffers are reused.
// At most kKeptBuffers buffers and kKeptBytes stay allocated while no call uses them.
class ScratchPool {
 public:
  enum : size_t { kKeptBuffers = 16, kKeptBytes = size_t{256} << 20 };

  std::unique_ptr<float[]> acquire(size_t n, size_t* capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t best = free_.size();
      for (size_t e = 0; e < free_.size(); ++e) {
        if (free_[e].capacity >= n && (best == free_.size() || free_[e].capacity < free_[best].capacity)) best = e;
      }
      if (best < free_.size()) {
        Buffer buffer = std::move(free_[best]);
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
        kept_ -= buffer.capacity;
        *capacity = buffer.capacity;
        return std::move(buffer.data);
      }
    }
    *capacity = n;
    return std::unique_ptr<float[]>(new float[n]);
  }

  void release(std::unique_ptr<float[]> data, size_t capacity) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(Buffer{std::move(data), capacity});
    kept_ += capacity;
    while (free_.size() > kKeptBuffers || kept_ * sizeof(float) > kKeptBytes) {
      kept_ -= free_.front().capacity;  // the least recently released
      free_.erase(free_.begin());
    }
  }

 private:
  struct Buffer {
    std::unique_ptr<float[]> data;
    size_t capacity;
  };
  std::mutex mutex_;
  std::vector<Buffer> free_;
  size_t kept_ = 0;
};

ScratchPool& scratchPool() {
  static ScratchPool pool;
  return pool;
}

// Uninitialized floats, 64-byte aligned, from the scratch pool.
class Floats {
 public:
  Floats() = default;
  explicit Floats(int64_t n) {
    storage_ = scratchPool().acquire(static_cast<size_t>(n) + 16, &capacity_);
    data_ = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(storage_.get()) + 63) & ~uintptr_t{63});
  }
  Floats(Floats&& other) noexcept { *this = std::move(other); }
  Floats& operator=(Floats&& other) noexcept {
    giveBack();
    storage_ = std::move(other.storage_);
    capacity_ = other.capacity_;
    data_ = other.data_;
    other.data_ = nullptr;
    return *this;
  }
  ~Floats() { giveBack(); }
  float* data() const { return data_; }

 private:
  void giveBack() {
    if (storage_) scratchPool().release(std::move(storage_), capacity_);
    data_ = nullptr;
  }
  std::unique_ptr<float[]> storage_;
  size_t capacity_ = 0;
  float* data_ = nullptr;
};

// The threshold of docs/contract.md §5, floor(rate · 2^32), from the rate the caller wrote:
// TensorFlow's float attribute holds float32(rate), so the rate is read back as the
// shortest decimal that rounds to it (0.1f → 0.1), as the JavaScript kernels see it.
uint32_t dropoutThreshold(float rate) {
  double exact = rate;
  for (int digits = 1; digits <= 9; ++digits) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(rate));
    const double decimal = std::strtod(text, nullptr);
    if (static_cast<float>(decimal) == rate) {
      exact = decimal;
      break;
    }
  }
  return static_cast<uint32_t>(std::floor(exact * 4294967296.0));
}

// A bias as the tiles read it. Queries are the vector lanes, so a bias that varies along
// the queries is copied with its own elements reordered, queries innermost (its own size,
// never the broadcast [B, Hq, Sq, Sk]), and padded so that a block's last lane vector
// loads whole; gradients go back through the same map.
struct BiasLayout {
  BiasView view{};
  bool reordered = false;
  int64_t own[4] = {1, 1, 1, 1};    // the bias's own dimensions
  const int64_t* stride = nullptr;  // the caller's strides
  Floats copy;

  int64_t elements() const { return own[0] * own[1] * own[2] * own[3]; }

  // Visits every own element as (caller offset, view offset).
  template <typename Visit>
  void forEach(Visit visit) const {
    for (int64_t b = 0; b < own[0]; ++b)
      for (int64_t h = 0; h < own[1]; ++h)
        for (int64_t j = 0; j < own[3]; ++j)
          for (int64_t i = 0; i < own[2]; ++i) {
            visit(b * stride[0] + h * stride[1] + i * stride[2] + j * stride[3],
                  b * view.stride[0] + h * view.stride[1] + i * view.stride[2] + j * view.stride[3]);
          }
  }
};

void describeBias(const float* data, const int64_t stride[4], const int64_t full[4], int64_t batchModulo,
                  BiasLayout* layout) {
  if (data == nullptr) return;
  layout->stride = stride;
  for (int d = 0; d < 4; ++d) layout->own[d] = stride[d] != 0 ? full[d] : 1;
  layout->view.batchModulo = batchModulo;
  if (stride[2] == 0 || layout->own[2] == 1) {
    layout->view.data = data;
    for (int d = 0; d < 4; ++d) layout->view.stride[d] = layout->own[d] > 1 ? stride[d] : 0;
    return;
  }
  const int64_t* own = layout->own;
  const int64_t reordered[4] = {own[1] * own[2] * own[3], own[2] * own[3], 1, own[2]};
  for (int d = 0; d < 4; ++d) layout->view.stride[d] = own[d] > 1 ? reordered[d] : 0;
  layout->reordered = true;
  layout->copy = Floats(layout->elements() + kQueryBlock);
  float* copy = layout->copy.data();
  std::memset(copy + layout->elements(), 0, sizeof(float) * kQueryBlock);
  layout->forEach([&](int64_t from, int64_t to) { copy[to] = data[from]; });
  layout->view.data = copy;
}

// Rows of `dim` floats, padded to kPadTo by a zero-filled copy where needed.
Rows paddedRows(const float* data, int64_t rows, int64_t dim, Floats* copy) {
  const int64_t padded = roundUp(dim, kPadTo);
  if (padded == dim) return Rows{data, dim};
  *copy = Floats(rows * padded);
  float* to = copy->data();
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(to + r * padded, data + r * dim, sizeof(float) * dim);
    std::memset(to + r * padded + dim, 0, sizeof(float) * (padded - dim));
  }
  return Rows{to, padded};
}

// Plan and the copies it points into.
struct Prepared {
  Plan plan{};
  BiasLayout bias, windowBias;
  Floats query, key, value, dout, queryT, doutT, rowDelta;
};

void prepare(const Problem& problem, const float* q, const float* k, const float* v, const float* dout,
             Prepared* prepared) {
  Plan& p = prepared->plan;
  p.batch = problem.batch;
  p.headsQ = problem.headsQ;
  p.headsKV = problem.headsKV;
  p.group = problem.headsKV > 0 ? problem.headsQ / problem.headsKV : 1;
  p.seqQ = problem.seqQ;
  p.seqK = problem.seqK;
  p.headDim = problem.headDim;
  p.valueDim = problem.valueDim;
  p.headDimPadded = roundUp(p.headDim, kPadTo);
  p.valueDimPadded = roundUp(p.valueDim, kPadTo);
  p.queryBlocks = (p.seqQ + kQueryBlock - 1) / kQueryBlock;
  p.keyBlocks = (p.seqK + kKeyBlock - 1) / kKeyBlock;
  p.scale = problem.scale;
  p.causal = problem.causal;
  if (problem.qSeqStarts.size() > 1) {
    p.qSeqStarts = problem.qSeqStarts.data();
    p.kSeqStarts = problem.kSeqStarts.data();
    p.numSeqBlocks = static_cast<int64_t>(problem.qSeqStarts.size()) - 1;
  }
  const int64_t full[4] = {p.batch, p.headsQ, p.seqQ, p.seqK};
  describeBias(problem.bias, problem.biasStride, full, p.batch, &prepared->bias);
  const int64_t windowFull[4] = {problem.numWindows, p.headsQ, p.seqQ, p.seqK};
  describeBias(problem.windowBias, problem.windowStride, windowFull, problem.numWindows, &prepared->windowBias);
  p.bias = prepared->bias.view;
  p.windowBias = prepared->windowBias.view;
  if (problem.dropoutRate > 0.f) {
    p.dropout = 1;
    p.dropoutSeed = problem.dropoutSeed;
    p.dropoutThreshold = dropoutThreshold(problem.dropoutRate);
    p.dropoutScale = 1.f / (1.f - problem.dropoutRate);
  }
  const int64_t queryRows = p.batch * p.headsQ * p.seqQ, keyRows = p.batch * p.headsKV * p.seqK;
  p.query = paddedRows(q, queryRows, p.headDim, &prepared->query);
  p.key = paddedRows(k, keyRows, p.headDim, &prepared->key);
  p.value = paddedRows(v, keyRows, p.valueDim, &prepared->value);
  if (dout != nullptr) p.dout = paddedRows(dout, queryRows, p.valueDim, &prepared->dout);
}

// task(slot, t, following) for each task t of `tasks`: claimed in turn (dynamic), or, with
// `contiguous`, a fixed range per slot so that each slot's partial sums are deterministic.
// `following` is the task the slot runs next, or -1. Claimed in turn, it is claimed before
// t runs, and only where tasks are many: a slot holding one back while another slot has
// none left costs at most one small task.
void runTasks(int slots, int64_t tasks, bool contiguous, const std::function<void(int, int64_t, int64_t)>& task) {
  std::atomic<int64_t> next{0};
  const bool claimAhead = tasks >= 16 * slots;
  runSlots(slots, [&](int slot) {
    if (contiguous) {
      const int64_t end = tasks * (slot + 1) / slots;
      for (int64_t t = tasks * slot / slots; t < end; ++t) task(slot, t, t + 1 < end ? t + 1 : -1);
    } else if (claimAhead) {
      for (int64_t t = next.fetch_add(1); t < tasks;) {
        const int64_t following = next.fetch_add(1);
        task(slot, t, following < tasks ? following : -1);
        t = following;
      }
    } else {
      for (int64_t t; (t = next.fetch_add(1)) < tasks;) task(slot, t, -1);
    }
  });
}

int slotsFor(int threads, int64_t tasks) {
  return static_cast<int>(tasks < threads ? (tasks > 0 ? tasks : 1) : threads);
}

// Plan::queryT, doutT and rowDelta for the split backward, one task per (b, h).
void prepareBackwardRows(const IsaKernels* kernels, int threads, Prepared* prepared) {
  Plan& p = prepared->plan;
  const int64_t heads = p.batch * p.headsQ, paddedRows = p.queryBlocks * kQueryBlock;
  prepared->queryT = Floats(heads * paddedRows * p.headDim);
  prepared->doutT = Floats(heads * paddedRows * p.valueDim);
  prepared->rowDelta = Floats(heads * paddedRows);
  p.queryT = prepared->queryT.data();
  p.doutT = prepared->doutT.data();
  p.rowDelta = prepared->rowDelta.data();
  runTasks(slotsFor(threads, heads), heads, false, [&](int, int64_t bh, int64_t) { kernels->backwardRowsTask(p, bh); });
}

// Whether two tasks of the backward's key pass can add into the same bias element.
bool tasksShareBias(const Plan& p, const BiasView& view, bool perKeyBlock) {
  if (view.data == nullptr) return false;
  const bool batches = p.batch > 1 && (view.stride[0] == 0 || p.batch > view.batchModulo);
  const bool heads = p.headsKV > 1 && view.stride[1] == 0;
  const bool keys = perKeyBlock && p.keyBlocks > 1 && view.stride[3] == 0;
  return batches || heads || keys;
}

// Bias gradients: the tasks' sums (one partial per slot, or one buffer), then the output
// in the caller's layout.
struct BiasGradientBuffer {
  const BiasLayout* layout = nullptr;
  float* output = nullptr;
  int slots = 1;
  bool partials = false;
  Floats buffer;

  void start(const BiasLayout& bias, float* out, bool shared, int slotCount) {
    if (out == nullptr || bias.view.data == nullptr) return;
    layout = &bias;
    output = out;
    partials = shared;
    slots = shared ? slotCount : 1;
    const int64_t n = bias.elements();
    if (!partials && !bias.reordered) {
      std::memset(output, 0, sizeof(float) * n);
      return;
    }
    buffer = Floats(n * slots);
    std::memset(buffer.data(), 0, sizeof(float) * n * slots);
  }

  float* target(int slot) const {
    if (output == nullptr) return nullptr;
    if (!partials && !layout->reordered) return output;
    return buffer.data() + (partials ? slot : 0) * layout->elements();
  }

  void finish() {
    if (output == nullptr || (!partials && !layout->reordered)) return;
    const int64_t n = layout->elements();
    float* sums = buffer.data();
    for (int s = 1; s < slots; ++s) {
      const float* partial = buffer.data() + s * n;
      for (int64_t e = 0; e < n; ++e) sums[e] += partial[e];
    }
    layout->forEach([&](int64_t to, int64_t from) { output[to] = sums[from]; });
  }
};

}  // namespace

std::vector<std::string> supportedSimd() {
  std::vector<std::string> names;
  for (const IsaKernels* kernels : availableKernels()) names.push_back(kernels->name);
  return names;
}

std::string selectedSimd() { return selectedKernels().load()->name; }

bool selectSimd(const std::string& name) {
  const IsaKernels* kernels = kernelsNamed(name);
  if (kernels == nullptr) return false;
  selectedKernels().store(kernels);
  return true;
}

void forward(const Problem& problem, const ForwardTensors& t, int numThreads) {
  const IsaKernels* kernels = selectedKernels().load();
  Prepared prepared;
  prepare(problem, t.q, t.k, t.v, nullptr, &prepared);
  Plan& p = prepared.plan;
  p.out = t.out;
  p.logsumexpOut = t.logsumexp;
  const int64_t tasks = p.batch * p.headsQ * p.queryBlocks;
  if (tasks == 0) return;
  const int threads = resolveThreads(numThreads);
  const int slots = slotsFor(threads, tasks);
  const int64_t scratchFloats = roundUp(kernels->scratchSizes(p, kKeysAndValues).forward, 16);
  Floats scratch(scratchFloats * slots);
  // Each worker claims its next task before running the current one, so that it can ask
  // the cache for the next task's rows meanwhile. Where each head is one short task, a
  // worker claims runs of neighbouring heads, whose rows follow each other in memory.
  const int64_t chunk = p.queryBlocks == 1 ? std::max<int64_t>(1, tasks / (slots * 16)) : 1;
  std::atomic<int64_t> next{0};
  runSlots(slots, [&](int slot) {
    float* slotScratch = scratch.data() + slot * scratchFloats;
    int64_t task = next.fetch_add(chunk), end = std::min(task + chunk, tasks);
    while (task < tasks) {
      int64_t following = task + 1;
      if (following == end) {
        following = next.fetch_add(chunk);
        end = std::min(following + chunk, tasks);
      }
      kernels->forwardTask(p, slotScratch, task, following < tasks ? following : -1);
      task = following;
    }
  });
}

void backward(const Problem& problem, const BackwardTensors& t, int numThreads) {
  const IsaKernels* kernels = selectedKernels().load();
  Prepared prepared;
  prepare(problem, t.q, t.k, t.v, t.dout, &prepared);
  Plan& p = prepared.plan;
  p.dq = t.dq;
  p.dk = t.dk;
  p.dv = t.dv;
  const int64_t keyRows = p.batch * p.headsKV * p.seqK;
  if (p.batch * p.headsQ * p.seqQ == 0 || keyRows == 0) {
    std::memset(t.dq, 0, sizeof(float) * p.batch * p.headsQ * p.seqQ * p.headDim);
    std::memset(t.dk, 0, sizeof(float) * keyRows * p.headDim);
    std::memset(t.dv, 0, sizeof(float) * keyRows * p.valueDim);
    if (t.dbias != nullptr) std::memset(t.dbias, 0, sizeof(float) * t.biasElements);
    if (t.dwindowBias != nullptr) std::memset(t.dwindowBias, 0, sizeof(float) * t.windowElements);
    return;
  }
  p.forwardOut = t.out;
  p.logsumexp = t.logsumexp;
  const int threads = resolveThreads(numThreads);

  // One task per (b, kv head) does all five products with no recomputation; where those
  // tasks are too few to keep the threads busy, key blocks and query blocks are split into
  // two passes (dK, dV by key block; dQ by query block) that recompute S and dP.
  const int64_t headTasks = p.batch * p.headsKV;
  const int64_t rounds = (headTasks + threads - 1) / threads;
  const double busy = static_cast<double>(headTasks) / static_cast<double>(rounds * threads);
  const int mode = threads == 1 || busy >= 5.0 / 7.0 ? kKeysValuesAndQueries : kKeysAndValues;
  const int64_t keyTasks = mode == kKeysValuesAndQueries ? headTasks : headTasks * p.keyBlocks;
  const int keySlots = slotsFor(threads, keyTasks);
  const int64_t queryTasks = mode == kKeysAndValues ? p.batch * p.headsQ * p.queryBlocks : 0;
  const int querySlots = slotsFor(threads, queryTasks);
  if (mode == kKeysAndValues) prepareBackwardRows(kernels, threads, &prepared);
  const bool perKeyBlock = mode == kKeysAndValues;
  const bool shared = tasksShareBias(p, p.bias, perKeyBlock) || tasksShareBias(p, p.windowBias, perKeyBlock);
  BiasGradientBuffer biasGradients, windowGradients;
  biasGradients.start(prepared.bias, t.dbias, shared, keySlots);
  windowGradients.start(prepared.windowBias, t.dwindowBias, shared, keySlots);

  const ScratchSizes sizes = kernels->scratchSizes(p, mode);
  const int64_t scratchFloats = roundUp(std::max(sizes.backwardKeys, sizes.backwardQueries), 16);
  Floats scratch(scratchFloats * std::max(keySlots, querySlots));
  runTasks(keySlots, keyTasks, shared, [&](int slot, int64_t task, int64_t following) {
    const BiasGradients targets{biasGradients.target(slot), windowGradients.target(slot)};
    kernels->backwardKeyTask(p, targets, scratch.data() + slot * scratchFloats, task, mode, following);
  });
  if (mode == kKeysAndValues) {
    runTasks(querySlots, queryTasks, false, [&](int slot, int64_t task, int64_t) {
      kernels->backwardQueryTask(p, scratch.data() + slot * scratchFloats, task);
    });
  }
  biasGradients.finish();
  windowGradients.finish();
}

}  // namespace cpu
}  // namespace tfjs_attention
