// A run requested from JS: owns its input tensors and the promise, and is
// delivered back to its env's thread through the env's RunDelivery.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <vector>

#include "addon_data.h"
#include "saved_model.h"
#include "task.h"

namespace tfserve {

class JsRunTask : public Task {
 public:
  // `cancel` may be empty; a non-zero value in its first slot cancels the run.
  JsRunTask(Napi::Env env, std::shared_ptr<SavedModel> model, std::vector<OwnedTensor> inputs,
            Napi::Int32Array cancel);

  Napi::Promise Promise() const { return deferred_.Promise(); }
  const std::atomic<int32_t>* CancelFlag() const override { return cancel_flag_.load(std::memory_order_acquire); }

  // Its env is being torn down: the JS memory behind the cancel flag is about
  // to go, and the task is unwanted anyway. Called under the gate's mutex.
  void DetachFromEnv();

  // Hands the task to the model's scheduler. JS thread.
  static Napi::Promise Submit(std::unique_ptr<JsRunTask> task, RunSpec spec, const BatchingParams* batching);

  // Delivers (or, with a null env, discards) every run in `first`'s gate's
  // ready list, `first` among them. JS thread (or env teardown).
  static void DeliverReady(Napi::Env env, JsRunTask* first);

  // Settles the promise and frees the task. JS thread.
  void Deliver(Napi::Env env, bool settled_inline);
  // Frees the task without touching JS (its env is gone).
  void Discard();

 protected:
  void Complete(RunResult result) override;

 private:
  // Queues finished tasks (of one env, in order) to that env's thread, or
  // discards them if the env is gone. One delivery call at most.
  static void SendThroughGate(const std::vector<JsRunTask*>& tasks);
  friend class DeliveryHold;
  // Only a cancellable task needs detaching at env teardown, so only those
  // are tracked in the gate's in-flight set.
  bool Tracked() const { return !cancel_.IsEmpty(); }
  // Leaves the gate's in-flight set (before the task is freed).
  void Forget();

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<SavedModel> model_;
  Napi::Reference<Napi::Int32Array> cancel_;
  std::atomic<const std::atomic<int32_t>*> cancel_flag_{nullptr};
  std::shared_ptr<DeliveryGate> gate_;
  RunResult result_;

  // Who delivers the result: the submitting JS thread, while it waits a few
  // microseconds for a fast run (no cross-thread wake-up), or the gate.
  enum Handoff : int { kJsWaiting, kGate, kDoneForJs };
  std::atomic<int> handoff_{kGate};
};

}  // namespace tfserve
