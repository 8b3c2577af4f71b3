#include "batcher.h"

#include <algorithm>

#include "delivery_hold.h"
#include "run_pool.h"
#include "shape_guard.h"
#include "saved_model.h"
#include "tensor_rows.h"

namespace tfserve {

namespace {

// The pieces of a request larger than max_batch_size; the last piece to
// finish reassembles the outputs and completes the original request.
class SplitState {
 public:
  SplitState(TaskPtr original, size_t pieces, std::vector<std::string> fetch_names)
      : original_(std::move(original)), fetch_names_(std::move(fetch_names)), parts_(pieces), remaining_(pieces) {}

  // The original is alive until the last piece finishes, which is after any
  // piece last asks whether it is still wanted.
  const Task& original() const { return *original_; }

  void PieceDone(size_t index, RunResult result) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      parts_[index] = std::move(result);
      if (--remaining_ > 0) return;
    }
    for (auto& part : parts_) {
      if (part.code != TF_OK) {
        Task::Finish(std::move(original_), std::move(part));
        return;
      }
    }
    RunResult whole;
    const size_t outputs = parts_.front().outputs.size();
    try {
      for (size_t j = 0; j < outputs; ++j) {
        std::vector<const TF_Tensor*> pieces;
        for (const auto& part : parts_) pieces.push_back(part.outputs[j].get());
        // Padded variable-length pieces may have run in batches of different widths.
        whole.outputs.push_back(StackRows(pieces, "output '" + fetch_names_[j] + "'"));
      }
    } catch (const std::exception& error) {
      whole = RunResult::Failed(error, "reassembling the split request failed: ");
    }
    Task::Finish(std::move(original_), std::move(whole));
  }

 private:
  std::mutex mutex_;
  TaskPtr original_;
  const std::vector<std::string> fetch_names_;
  std::vector<RunResult> parts_;
  size_t remaining_;
};

class SplitPiece : public Task {
 public:
  SplitPiece(std::shared_ptr<SplitState> state, size_t index, std::vector<OwnedTensor> inputs)
      : Task(std::move(inputs)), state_(std::move(state)), index_(index) {}
  const std::atomic<int32_t>* CancelFlag() const override { return state_->original().CancelFlag(); }

 protected:
  void Complete(RunResult result) override {
    std::unique_ptr<SplitPiece> self(this);
    state_->PieceDone(index_, std::move(result));
  }

 private:
  std::shared_ptr<SplitState> state_;
  size_t index_;
};

// Padding a batch's ragged inputs may make them at most this many times
// larger (plus kPaddingSlackBytes); past it, the requests run one by one.
constexpr size_t kMaxPaddingFactor = 8;

void FinishAll(std::vector<TaskPtr>& tasks, TF_Code code, const std::string& message) {
  for (auto& task : tasks) Task::Finish(std::move(task), RunResult::Error(code, message));
}

}  // namespace

Batcher::Batcher(SavedModel* model, BatchingParams params, std::vector<std::string> feed_names,
                 std::vector<std::string> fetch_names)
    : model_(model),
      params_(std::move(params)),
      feed_names_(std::move(feed_names)),
      fetch_names_(std::move(fetch_names)) {
  stats_.queue_buckets.assign(QueueBucketBounds().size() + 1, 0);
  for (int64_t i = 0; i < params_.num_batch_threads; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("tfs-batch");
      Loop();
    });
  }
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) thread.join();
}

BatcherStats Batcher::Stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  BatcherStats stats = stats_;
  stats.queued_requests = 0;
  for (const auto& batch : batches_) stats.queued_requests += batch->tasks.size();
  return stats;
}

void Batcher::Submit(TaskPtr task) {
  const auto& inputs = task->inputs();
  int64_t rows = -1;
  std::string shape_key;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int64_t> dims = Dims(inputs[i]);
    if (dims.empty()) {
      Task::Finish(std::move(task), RunResult::Error(TF_INVALID_ARGUMENT,
          "batching needs a batch dimension, but feed '" + feed_names_[i] + "' is a scalar"));
      return;
    }
    if (rows >= 0 && dims[0] != rows) {
      Task::Finish(std::move(task), RunResult::Error(TF_INVALID_ARGUMENT,
          "batching needs every feed to have the same first dimension; '" + feed_names_[i] + "' has " +
              std::to_string(dims[0]) + " rows, '" + feed_names_[0] + "' has " + std::to_string(rows)));
      return;
    }
    rows = dims[0];
    shape_key += std::to_string(TF_TensorType(inputs[i])) + ":";
    shape_key += params_.pad_variable_length_inputs ? std::to_string(dims.size())
                                                    : FormatDims(std::vector<int64_t>(dims.begin() + 1, dims.end()));
    shape_key += ";";
  }
  if (rows < 0) rows = 0;
  if (rows > params_.max_batch_size) {
    if (!params_.enable_large_batch_splitting) {
      Task::Finish(std::move(task), RunResult::Error(TF_INVALID_ARGUMENT,
          "Task size " + std::to_string(rows) + " is larger than maximum batch size " +
              std::to_string(params_.max_batch_size) + " (enable_large_batch_splitting is off)"));
      return;
    }
    Split(std::move(task), rows, shape_key);
    return;
  }
  Enqueue(std::move(task), rows, shape_key);
}

void Batcher::Split(TaskPtr task, int64_t rows, const std::string& shape_key) {
  const int64_t size = params_.max_batch_size;
  const int64_t piece_count = rows / size + (rows % size != 0 ? 1 : 0);
  // Every piece but the last fills a batch of its own, so more pieces than
  // the queue holds batches can never all run. Refused before any slicing:
  // rows with no elements ([2^40, 0]) pass the shape guard, and slicing them
  // into 2^38 pieces would hold the JS thread and exhaust memory.
  if (piece_count > params_.max_enqueued_batches) {
    Task::Finish(std::move(task), RunResult::Error(TF_UNAVAILABLE,
        "The batch scheduling queue to which this task was submitted is full: splitting its " + std::to_string(rows) +
            " rows into batches of " + std::to_string(size) + " needs " + std::to_string(piece_count) +
            " batches, and at most " + std::to_string(params_.max_enqueued_batches) + " can be enqueued"));
    return;
  }
  const size_t pieces = static_cast<size_t>(piece_count);
  const auto deadline = task->deadline;
  std::vector<std::vector<OwnedTensor>> sliced(pieces);
  try {
    for (size_t p = 0; p < pieces; ++p) {
      const int64_t begin = static_cast<int64_t>(p) * size;
      const auto& inputs = task->inputs();
      for (size_t i = 0; i < inputs.size(); ++i) {
        sliced[p].push_back(SliceRows(inputs[i], begin, std::min(size, rows - begin), "feed '" + feed_names_[i] + "'"));
      }
    }
  } catch (const std::exception& error) {
    Task::Finish(std::move(task), RunResult::Failed(error, "splitting the request failed: "));
    return;
  }
  auto state = std::make_shared<SplitState>(std::move(task), pieces, fetch_names_);
  for (size_t p = 0; p < pieces; ++p) {
    auto piece = std::make_unique<SplitPiece>(state, p, std::move(sliced[p]));
    piece->deadline = deadline;
    const int64_t piece_rows = std::min(size, rows - static_cast<int64_t>(p) * size);
    Enqueue(std::move(piece), piece_rows, shape_key);
  }
}

void Batcher::Enqueue(TaskPtr task, int64_t rows, const std::string& shape_key) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto open = open_.find(shape_key);
  if (open != open_.end() && open->second->total_rows + rows > params_.max_batch_size) {
    open->second->closed = true;
    open_.erase(open);
    open = open_.end();
  }
  Batch* batch;
  const bool created = open == open_.end();
  if (created) {
    if (static_cast<int64_t>(batches_.size()) >= params_.max_enqueued_batches) {
      lock.unlock();
      Task::Finish(std::move(task), RunResult::Error(TF_UNAVAILABLE,
          "The batch scheduling queue to which this task was submitted is full (" +
              std::to_string(params_.max_enqueued_batches) + " batches enqueued)"));
      return;
    }
    batches_.push_back(std::make_unique<Batch>());
    batch = batches_.back().get();
    batch->shape_key = shape_key;
    batch->opened = Clock::now();
    open_[shape_key] = batch;
  } else {
    batch = open->second;
  }
  batch->tasks.push_back(std::move(task));
  batch->rows.push_back(rows);
  batch->total_rows += rows;
  if (batch->total_rows >= params_.max_batch_size) {
    batch->closed = true;
    open_.erase(shape_key);
  }
  // Joining a batch that is still open changes nothing a batch thread waits for.
  const bool wake = created || batch->closed;
  lock.unlock();
  if (wake) ready_.notify_one();
}

void Batcher::Loop() {
  MarkServingThread();
  DeprioritizeComputeThread();
  const auto idle_timeout = std::chrono::microseconds(params_.batch_timeout_micros);
  const auto busy_timeout = std::chrono::microseconds(params_.BusyTimeoutMicros());
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (stopping_ && batches_.empty()) return;
    const auto now = Clock::now();
    // While another batch runs, a batch that is not full may wait longer to
    // fill; the thread that finishes the running batch re-reads this at once.
    const auto timeout = running_ > 0 ? busy_timeout : idle_timeout;
    auto wake = Clock::time_point::max();
    auto pick = batches_.end();
    for (auto it = batches_.begin(); it != batches_.end(); ++it) {
      const auto due = (*it)->opened + timeout;
      if ((*it)->closed || now >= due || stopping_) {
        pick = it;
        break;
      }
      wake = std::min(wake, due);
    }
    if (pick == batches_.end()) {
      if (wake == Clock::time_point::max()) {
        ready_.wait(lock);
      } else {
        ready_.wait_until(lock, wake);
      }
      continue;
    }
    std::unique_ptr<Batch> batch = std::move(*pick);
    batches_.erase(pick);
    auto open = open_.find(batch->shape_key);
    if (open != open_.end() && open->second == batch.get()) open_.erase(open);
    ++running_;
    // A busy timeout shorter than the idle one makes waiting batches due
    // sooner now that this one runs: the threads sleeping on them computed
    // their wake time with the idle timeout, so they must look again.
    const bool shortened = busy_timeout < idle_timeout && !batches_.empty();
    lock.unlock();
    if (shortened) ready_.notify_all();
    Process(std::move(batch));
    lock.lock();
    // Batches waiting on the busy timeout may be due now; this thread looks
    // first, and other free threads look when a batch arrives or closes.
    --running_;
  }
}

void Batcher::Process(std::unique_ptr<Batch> batch) {
  // The batch's answers reach each JS thread in one hand-off, when this ends.
  DeliveryHold hold;
  const auto now = Clock::now();
  std::vector<TaskPtr> tasks;
  std::vector<int64_t> rows;
  std::vector<double> waits;
  for (size_t i = 0; i < batch->tasks.size(); ++i) {
    TaskPtr& task = batch->tasks[i];
    if (TF_Code why = task->Unwanted(now)) {
      FinishUnwanted(std::move(task), why);
      continue;
    }
    waits.push_back(std::chrono::duration<double>(now - task->enqueued).count());
    rows.push_back(batch->rows[i]);
    tasks.push_back(std::move(task));
  }
  if (tasks.empty()) return;

  int64_t total = 0;
  for (int64_t r : rows) total += r;
  int64_t target = total;
  for (int64_t allowed : params_.allowed_batch_sizes) {
    if (allowed >= total) {
      target = allowed;
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.batches += 1;
    stats_.requests += tasks.size();
    stats_.rows += static_cast<uint64_t>(total);
    stats_.padded_rows += static_cast<uint64_t>(target - total);
    const auto& bounds = QueueBucketBounds();
    for (double wait : waits) {
      stats_.queue_seconds += wait;
      stats_.queue_buckets[std::lower_bound(bounds.begin(), bounds.end(), wait) - bounds.begin()] += 1;
    }
    size_t bucket = 0;
    while (bucket + 1 < stats_.size_buckets.size() && (int64_t{1} << bucket) < target) ++bucket;
    stats_.size_buckets[bucket] += 1;
  }

  // One request that needs no padding runs on its own tensors.
  const bool as_is = tasks.size() == 1 && target == total;
  std::vector<OwnedTensor> merged;
  std::vector<TF_Tensor*> feeds;
  if (as_is) {
    feeds = tasks.front()->inputs();
  } else {
    try {
      for (size_t i = 0; i < feed_names_.size(); ++i) {
        std::vector<const TF_Tensor*> column;
        for (const auto& task : tasks) column.push_back(task->inputs()[i]);
        merged.push_back(StackRows(column, "feed '" + feed_names_[i] + "'", target, kMaxPaddingFactor));
        if (target > total && total > 0) RepeatRow(merged.back().get(), 0, total, target);
        feeds.push_back(merged.back().get());
      }
    } catch (const std::exception&) {
      // The merged shape failed the guard (padding ragged requests to the
      // widest of each dim, or to an allowed batch size, overflows) or its
      // memory could not be had. That is no fault of any one request: each
      // runs on its own instead, unpadded, if it is still wanted once the
      // runs before it are done.
      for (auto& task : tasks) {
        if (TF_Code why = task->Unwanted(Clock::now())) {
          FinishUnwanted(std::move(task), why);
          continue;
        }
        RunResult alone = model_->Run(feed_names_, task->inputs(), fetch_names_);
        Task::Finish(std::move(task), std::move(alone));
      }
      return;
    }
  }

  RunResult run = model_->Run(feed_names_, feeds, fetch_names_);
  if (run.code != TF_OK) {
    FinishAll(tasks, run.code, run.message);
    return;
  }
  std::vector<OwnedTensor>& outputs = run.outputs;
  for (size_t j = 0; j < outputs.size(); ++j) {
    const std::vector<int64_t> dims = Dims(outputs[j].get());
    if (dims.empty() || dims[0] != target) {
      FinishAll(tasks, TF_FAILED_PRECONDITION,
                "output '" + fetch_names_[j] + "' has shape " + FormatDims(dims) +
                    ", whose first dimension is not the batch size " + std::to_string(target) +
                    ": this signature cannot be batched; turn batching off for this model");
      return;
    }
  }
  if (as_is) {
    Task::Finish(std::move(tasks.front()), std::move(run));
    return;
  }
  std::vector<RunResult> results(tasks.size());
  try {
    int64_t offset = 0;
    for (size_t t = 0; t < tasks.size(); ++t) {
      for (size_t j = 0; j < outputs.size(); ++j) {
        results[t].outputs.push_back(SliceRows(outputs[j].get(), offset, rows[t], "output '" + fetch_names_[j] + "'"));
      }
      offset += rows[t];
    }
  } catch (const std::exception& error) {
    const RunResult failed = RunResult::Failed(error, "splitting the batch's outputs failed: ");
    FinishAll(tasks, failed.code, failed.message);
    return;
  }
  for (size_t t = 0; t < tasks.size(); ++t) Task::Finish(std::move(tasks[t]), std::move(results[t]));
}

}  // namespace tfserve
