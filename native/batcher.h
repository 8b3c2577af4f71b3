// Micro-batching for one (model, batching params, feeds, fetches): requests
// from every thread meet in one queue; requests whose inputs agree in dtype
// and non-batch dims are concatenated along dim 0, run once, and the outputs
// are split back by row. Semantics follow TF Serving's BatchingParameters.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "batching_params.h"
#include "task.h"

namespace tfserve {

class SavedModel;

struct BatcherStats {
  uint64_t batches = 0;
  uint64_t requests = 0;
  uint64_t rows = 0;         // rows that came from requests
  uint64_t padded_rows = 0;  // rows added to reach an allowed batch size
  double queue_seconds = 0;  // summed over requests: submit -> batch start
  uint64_t queued_requests = 0;
  // batches by size: bucket i counts batches of size in (2^(i-1), 2^i]
  std::vector<uint64_t> size_buckets = std::vector<uint64_t>(16, 0);
  // requests by queue latency: bucket i counts waits <= kQueueBucketBounds[i];
  // the last bucket counts the rest
  std::vector<uint64_t> queue_buckets;
};

// Upper bounds (seconds) of BatcherStats::queue_buckets.
inline const std::vector<double>& QueueBucketBounds() {
  static const std::vector<double> bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1.0};
  return bounds;
}

class Batcher {
 public:
  Batcher(SavedModel* model, BatchingParams params, std::vector<std::string> feed_names,
          std::vector<std::string> fetch_names);
  ~Batcher();

  // Queues the task, or completes it at once with INVALID_ARGUMENT (no batch
  // dim, too large without splitting) or UNAVAILABLE (queue full).
  void Submit(TaskPtr task);

  BatcherStats Stats();

 private:
  struct Batch {
    std::string shape_key;
    std::vector<TaskPtr> tasks;
    std::vector<int64_t> rows;  // per task
    int64_t total_rows = 0;
    Clock::time_point opened;
    bool closed = false;
  };

  void Enqueue(TaskPtr task, int64_t rows, const std::string& shape_key);
  void Split(TaskPtr task, int64_t rows, const std::string& shape_key);
  void Loop();
  void Process(std::unique_ptr<Batch> batch);

  SavedModel* const model_;
  const BatchingParams params_;
  const std::vector<std::string> feed_names_;
  const std::vector<std::string> fetch_names_;

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Batch>> batches_;  // oldest first
  std::map<std::string, Batch*> open_;          // the open batch per input shape
  bool stopping_ = false;
  int64_t running_ = 0;  // batches being processed by batch threads
  BatcherStats stats_;
  std::vector<std::thread> threads_;
};

}  // namespace tfserve
