// One request to run a model: its feeds, when it stops being wanted, and
// where its result goes. Schedulers (RunPool, Batcher) take ownership, and
// hand the task to Complete() exactly once, from whatever thread ran it.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "owned_tensor.h"
#include "tf_error.h"

namespace tfserve {

using Clock = std::chrono::steady_clock;

struct RunResult {
  TF_Code code = TF_OK;
  std::string message;
  std::vector<OwnedTensor> outputs;

  static RunResult Error(TF_Code code, std::string message) {
    RunResult result;
    result.code = code;
    result.message = std::move(message);
    return result;
  }

  // A failure caught while preparing or splitting a run: a TfError keeps its
  // code, anything else (std::bad_alloc) is INTERNAL. Batch threads and the
  // JS thread catch every std::exception this way, since one escaping them
  // would abort the process.
  static RunResult Failed(const std::exception& error, const std::string& context) {
    const auto* tf = dynamic_cast<const TfError*>(&error);
    return Error(tf != nullptr ? tf->code() : TF_INTERNAL, context + error.what());
  }
};

class Task {
 public:
  explicit Task(std::vector<OwnedTensor> inputs) : owned_inputs_(std::move(inputs)) {
    inputs_.reserve(owned_inputs_.size());
    for (const auto& input : owned_inputs_) inputs_.push_back(input.get());
  }
  virtual ~Task() = default;

  // Takes the task over: the implementation owns itself from here on.
  static void Finish(std::unique_ptr<Task> task, RunResult result) {
    task.release()->Complete(std::move(result));
  }

  // Feeds, in the order of the run's feed names; owned by the task.
  const std::vector<TF_Tensor*>& inputs() const { return inputs_; }

  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point enqueued = Clock::now();

  // CANCELLED / DEADLINE_EXCEEDED when the task is no longer wanted, else OK.
  TF_Code Unwanted(Clock::time_point now) const {
    const std::atomic<int32_t>* flag = CancelFlag();
    if (flag != nullptr && flag->load(std::memory_order_relaxed) != 0) return TF_CANCELLED;
    if (now >= deadline) return TF_DEADLINE_EXCEEDED;
    return TF_OK;
  }

  // Set to non-zero by the caller to cancel; null when it cannot.
  virtual const std::atomic<int32_t>* CancelFlag() const { return nullptr; }

 protected:
  // Called once with the result; must dispose of `this`.
  virtual void Complete(RunResult result) = 0;

 private:
  std::vector<OwnedTensor> owned_inputs_;
  std::vector<TF_Tensor*> inputs_;
};

using TaskPtr = std::unique_ptr<Task>;

// Completes an unwanted task with the matching error.
inline void FinishUnwanted(TaskPtr task, TF_Code why) {
  Task::Finish(std::move(task),
               RunResult::Error(why, why == TF_CANCELLED
                                         ? "the request was cancelled before it ran"
                                         : "the request's deadline passed before it ran"));
}

}  // namespace tfserve
