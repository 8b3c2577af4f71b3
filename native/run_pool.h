// Process-wide threads that run unbatched requests, one TF_SessionRun each
// (with the default session config TF executes the run's ops on the calling
// thread, so these threads compute). Two per core, at least 4, so that one
// model's long runs do not hold up another's; TFSERVE_RUN_THREADS overrides.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace tfserve {

class Job {
 public:
  virtual ~Job() = default;
  virtual void Run() = 0;
};

class RunPool {
 public:
  static RunPool& Instance();
  ~RunPool();

  void Submit(std::unique_ptr<Job> job);

 private:
  explicit RunPool(size_t threads);
  void Loop();

  // One idle thread at a time polls for work briefly before sleeping, so a
  // steady stream of requests does not pay a thread wake-up each.
  void PollForWork();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Job>> jobs_;
  std::atomic<size_t> queued_{0};
  std::atomic<bool> polling_{false};
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Threads that must not block on TF teardown: JS threads and scheduler
// threads. A model whose last reference drops on one of them is destroyed on
// a fresh thread instead.
void MarkServingThread();
bool IsServingThread();

// Lowers the calling thread's scheduling priority (nice +5, or
// TFSERVE_COMPUTE_NICE) so that, on a busy machine, JS threads get a core
// before TensorFlow does. Threads TF creates from here on inherit it.
void DeprioritizeComputeThread();

// Names the calling thread (at most 15 bytes are kept) for /proc, top and
// debuggers: threads it creates afterwards inherit the name, which is how
// TF's own pools, created from the loader thread, come out as "tf-session".
void NameThisThread(const char* name);

}  // namespace tfserve
