#include "thread_pool.h"

#include <atomic>
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
  int finished = 0;       // slots done, under Pool::mutex
  int workersInside = 0;  // workers holding this job, under Pool::mutex
};

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
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(threads_.size()) < slots - 1) threads_.emplace_back([this] { serve(); });
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    int done = claim(job);
    std::unique_lock<std::mutex> lock(mutex_);
    job.finished += done;
    finished_.wait(lock, [&] { return job.finished == job.slots && job.workersInside == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  static int claim(Job& job) {
    int done = 0;
    for (int slot; (slot = job.next.fetch_add(1)) < job.slots; ++done) (*job.work)(slot);
    return done;
  }

  void serve() {
    unsigned long long seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
      if (stop_) return;
      seen = generation_;
      Job* job = job_;
      ++job->workersInside;
      lock.unlock();
      const int done = claim(*job);
      lock.lock();
      job->finished += done;
      --job->workersInside;
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
