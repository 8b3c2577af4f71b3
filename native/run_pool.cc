#include "run_pool.h"

#include <algorithm>
#include <cstdlib>

namespace tfserve {

namespace {
thread_local bool serving_thread = false;
}  // namespace

void MarkServingThread() { serving_thread = true; }
bool IsServingThread() { return serving_thread; }

RunPool& RunPool::Instance() {
  static RunPool pool([] {
    if (const char* env = std::getenv("TFSERVE_RUN_THREADS")) {
      int count = std::atoi(env);
      if (count > 0) return static_cast<size_t>(count);
    }
    return static_cast<size_t>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  }());
  return pool;
}

RunPool::RunPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
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
  }
  ready_.notify_one();
}

void RunPool::Loop() {
  MarkServingThread();
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job->Run();
  }
}

}  // namespace tfserve
