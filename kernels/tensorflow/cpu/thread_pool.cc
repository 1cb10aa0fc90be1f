#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace tfjs_attention {
namespace cpu {
namespace {

// One parallel region: its slots are claimed through `next` by the caller and the workers.
struct Job {
  const std::function<void(int)>* work;
  int slots;
  std::atomic<int> next{0};
  std::atomic<int> unfinished{0};  // slots not yet run to their end
  std::atomic<int> inside{0};      // workers holding this job (taken under Pool::mutex)

  bool done() const {
    return unfinished.load(std::memory_order_acquire) == 0 && inside.load(std::memory_order_acquire) == 0;
  }
};

// How long the caller, its own slots done, waits awake for the workers before it sleeps:
// they usually finish within one task, and waking a sleeping thread took 58–84 µs on the
// 2-core virtual machine of benchmarks/RESULTS.md. It yields while it waits, so that a
// worker (or TensorFlow's threads) sharing its CPU runs first.
constexpr std::chrono::microseconds kAwakeWait{200};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // False when another caller holds the pool.
  bool run(int slots, const std::function<void(int)>& work) {
    std::unique_lock<std::mutex> exclusive(runMutex_, std::try_to_lock);
    if (!exclusive.owns_lock()) return false;
    Job job;
    job.work = &work;
    job.slots = slots;
    job.unfinished.store(slots, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(threads_.size()) < slots - 1) threads_.emplace_back([this] { serve(); });
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    claim(job);
    const auto deadline = std::chrono::steady_clock::now() + kAwakeWait;
    while (!job.done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return job.done(); });
    job_ = nullptr;
    return true;
  }

 private:
  static void claim(Job& job) {
    for (int slot; (slot = job.next.fetch_add(1)) < job.slots;) {
      (*job.work)(slot);
      job.unfinished.fetch_sub(1, std::memory_order_release);
    }
  }

  void serve() {
    unsigned long long seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
      if (stop_) return;
      seen = generation_;
      Job* job = job_;
      job->inside.fetch_add(1, std::memory_order_relaxed);
      lock.unlock();
      claim(*job);
      lock.lock();
      job->inside.fetch_sub(1, std::memory_order_release);  // the job may be gone from here on
      finished_.notify_all();
    }
  }

  std::mutex runMutex_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::vector<std::thread> threads_;
  Job* job_ = nullptr;
  unsigned long long generation_ = 0;
  bool stop_ = false;
};

}  // namespace

void runSlots(int slots, const std::function<void(int)>& work) {
  static Pool pool;
  if (slots > 1 && pool.run(slots, work)) return;
  for (int slot = 0; slot < slots; ++slot) work(slot);
}

}  // namespace cpu
}  // namespace tfjs_attention
