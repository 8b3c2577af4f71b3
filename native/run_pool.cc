#include "run_pool.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "env_int.h"

namespace tfserve {

namespace {
thread_local bool serving_thread = false;
}  // namespace

void MarkServingThread() { serving_thread = true; }
bool IsServingThread() { return serving_thread; }

void DeprioritizeComputeThread() {
  static const int nice = EnvInt("TFSERVE_COMPUTE_NICE", 5, 0, 19);
  if (nice == 0) return;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(19, current + nice));
}

void NameThisThread(const char* name) {
  char truncated[16] = {};
  std::strncpy(truncated, name, sizeof truncated - 1);
  pthread_setname_np(pthread_self(), truncated);
}

RunPool& RunPool::Instance() {
  const int fallback = static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  static RunPool pool(static_cast<size_t>(EnvInt("TFSERVE_RUN_THREADS", fallback, 1, 4096)));
  return pool;
}

RunPool::RunPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] {
    NameThisThread("tfs-run");
    Loop();
  });
}

RunPool::~RunPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void RunPool::Submit(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
    queued_.fetch_add(1, std::memory_order_release);
  }
  // A polling thread takes the job; if it stops polling first, it checks the
  // queue under the lock before it sleeps, so nothing is missed.
  if (!polling_.load(std::memory_order_acquire)) ready_.notify_one();
}

void RunPool::PollForWork() {
  bool expected = false;
  if (!polling_.compare_exchange_strong(expected, true)) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  polling_.store(false, std::memory_order_release);
}

void RunPool::Loop() {
  MarkServingThread();
  DeprioritizeComputeThread();
  for (;;) {
    std::unique_ptr<Job> job;
    PollForWork();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
      // Submit skips the notify while a thread polls; jobs that arrived
      // together must not wait for this one to finish.
      if (!jobs_.empty()) ready_.notify_one();
    }
    job->Run();
  }
}

}  // namespace tfserve
