#include "js_run_task.h"

#include <chrono>
#include <thread>
#include <utility>

#include "delivery_hold.h"
#include "env_int.h"
#include "js_error.h"
#include "tensor_marshal.h"

namespace tfserve {

AddonData::AddonData(Napi::Env env) : gate(std::make_shared<DeliveryGate>()) {
  gate->delivery = RunDelivery::New(env, "tfserve.run", 0, 1, static_cast<void*>(nullptr));
  gate->delivery.Unref(env);
  // Registered after the delivery, so it runs before Node deletes it.
  env.AddCleanupHook([gate = gate] {
    std::lock_guard<std::mutex> lock(gate->mutex);
    gate->open = false;
    for (JsRunTask* task : gate->in_flight) task->DetachFromEnv();
  });
}

void DeliverRun(Napi::Env env, Napi::Function, void*, JsRunTask* task) {
  JsRunTask::DeliverReady(env, task);
}

void JsRunTask::DeliverReady(Napi::Env env, JsRunTask* first) {
  // `first` is in the list until we take it; the gate outlives the tasks.
  std::shared_ptr<DeliveryGate> gate = first->gate_;
  std::vector<JsRunTask*> ready;
  {
    std::lock_guard<std::mutex> lock(gate->mutex);
    ready.swap(gate->ready);
  }
  for (JsRunTask* task : ready) {
    if (env == nullptr) {
      task->Discard();
    } else {
      task->Deliver(env, /*settled_inline=*/false);
    }
  }
}

JsRunTask::JsRunTask(Napi::Env env, std::shared_ptr<SavedModel> model, std::vector<OwnedTensor> inputs,
                     Napi::Int32Array cancel)
    : Task(std::move(inputs)),
      deferred_(Napi::Promise::Deferred::New(env)),
      model_(std::move(model)),
      gate_(GetAddonData(env).gate) {
  if (!cancel.IsEmpty() && cancel.ElementLength() >= 1) {
    cancel_ = Napi::Persistent(cancel);
    cancel_flag_.store(reinterpret_cast<const std::atomic<int32_t>*>(cancel.Data()), std::memory_order_release);
  }
}

void JsRunTask::DetachFromEnv() {
  static const std::atomic<int32_t> always_cancelled{1};
  cancel_flag_.store(&always_cancelled, std::memory_order_release);
}

namespace {

// How long the JS thread may wait for a lone run to finish before leaving it
// to the event loop. Waking a sleeping thread costs tens of microseconds on
// virtual machines, more than a small model's whole run; the wait is bounded
// so the event loop never stalls longer. TFSERVE_JS_WAIT_MICROS overrides.
std::chrono::microseconds JsWaitBudget() {
  static const std::chrono::microseconds budget(EnvInt("TFSERVE_JS_WAIT_MICROS", 50, 0, 1000000));
  return budget;
}

}  // namespace

Napi::Promise JsRunTask::Submit(std::unique_ptr<JsRunTask> task, RunSpec spec, const BatchingParams* batching) {
  Napi::Env env = task->deferred_.Env();
  AddonData& data = GetAddonData(env);
  if (data.pending_runs++ == 0) data.gate->delivery.Ref(env);
  if (task->Tracked()) {
    std::lock_guard<std::mutex> lock(data.gate->mutex);
    data.gate->in_flight.insert(task.get());
  }
  Napi::Promise promise = task->Promise();
  // Only a lone run of a model that usually finishes within the budget, and
  // that no batch timeout holds back, is waited for: waiting longer would
  // take a core from TensorFlow.
  const bool wait = data.pending_runs == 1 && JsWaitBudget().count() > 0 &&
                    task->model_->TypicalRunTime() <= JsWaitBudget() &&
                    (batching == nullptr || batching->batch_timeout_micros == 0);
  JsRunTask* raw = task.get();
  raw->handoff_.store(wait ? kJsWaiting : kGate, std::memory_order_relaxed);
  SavedModel* model = raw->model_.get();
  model->Submit(std::move(task), std::move(spec), batching);
  if (!wait) return promise;

  const auto until = Clock::now() + JsWaitBudget();
  int state = kJsWaiting;
  while ((state = raw->handoff_.load(std::memory_order_acquire)) == kJsWaiting && Clock::now() < until) {
    std::this_thread::yield();
  }
  if (state == kJsWaiting && raw->handoff_.compare_exchange_strong(state, kGate, std::memory_order_acq_rel)) {
    return promise;  // still running: the gate delivers it
  }
  // Finished while we waited: settle it now, marked so that the JS side
  // yields to the event loop before going on (else an `await` loop over
  // short runs would never let the loop turn).
  raw->Deliver(env, /*settled_inline=*/true);
  return promise;
}

void JsRunTask::Complete(RunResult result) {
  result_ = std::move(result);
  int waiting = kJsWaiting;
  if (handoff_.compare_exchange_strong(waiting, kDoneForJs, std::memory_order_acq_rel)) {
    return;  // the JS thread is waiting for it; `this` is its to free now
  }
  if (DeliveryHold* hold = DeliveryHold::Current()) {
    hold->Add(this);
    return;
  }
  SendThroughGate({this});
}

void JsRunTask::SendThroughGate(const std::vector<JsRunTask*>& tasks) {
  if (tasks.empty()) return;
  // Once queued, a task may be delivered and freed at any moment: hold the
  // gate through a local reference, not through a task.
  std::shared_ptr<DeliveryGate> gate = tasks.front()->gate_;
  std::unique_lock<std::mutex> lock(gate->mutex);
  if (gate->open) {
    // A non-empty list already has a delivery call on its way, which takes these too.
    const size_t before = gate->ready.size();
    gate->ready.insert(gate->ready.end(), tasks.begin(), tasks.end());
    if (before > 0 || gate->delivery.BlockingCall(tasks.front()) == napi_ok) return;
    gate->ready.clear();  // no call queued: nothing was added after them, since we hold the mutex
  }
  lock.unlock();
  for (JsRunTask* task : tasks) task->Discard();
}

namespace {
thread_local DeliveryHold* current_hold = nullptr;
}  // namespace

DeliveryHold::DeliveryHold() {
  if (current_hold == nullptr) {
    current_hold = this;
    owner_ = true;
  }
}

DeliveryHold* DeliveryHold::Current() { return current_hold; }

DeliveryHold::~DeliveryHold() {
  if (!owner_) return;
  current_hold = nullptr;
  // One hand-off per env, each env's runs in order. A batch from several envs
  // (engine workers, front-door threads) interleaves them: handing over each
  // run of consecutive tasks instead would let an env's thread, woken by its
  // first task, drain it before the next arrived, and wake again for each.
  std::vector<JsRunTask*> group;
  for (size_t first = 0; first < held_.size(); ++first) {
    if (held_[first] == nullptr) continue;
    // Compared before any of this env's tasks is handed over (and freed).
    const DeliveryGate* gate = held_[first]->gate_.get();
    group.clear();
    for (size_t i = first; i < held_.size(); ++i) {
      if (held_[i] != nullptr && held_[i]->gate_.get() == gate) {
        group.push_back(held_[i]);
        held_[i] = nullptr;
      }
    }
    JsRunTask::SendThroughGate(group);
  }
}

void JsRunTask::Forget() {
  if (!Tracked()) return;
  std::lock_guard<std::mutex> lock(gate_->mutex);
  gate_->in_flight.erase(this);
}

void JsRunTask::Discard() {
  Forget();
  std::unique_ptr<JsRunTask> self(this);
  cancel_.SuppressDestruct();  // its env is gone: nothing left to unref
}

void JsRunTask::Deliver(Napi::Env env, bool settled_inline) {
  Forget();
  std::unique_ptr<JsRunTask> self(this);
  AddonData& data = GetAddonData(env);
  if (--data.pending_runs == 0) data.gate->delivery.Unref(env);
  Napi::HandleScope scope(env);
  SettleDeferred(deferred_, [&] {
    if (result_.code != TF_OK) {
      deferred_.Reject(MakeJsError(env, CodeName(result_.code), result_.message).Value());
      return;
    }
    Napi::Array outputs = Napi::Array::New(env, result_.outputs.size());
    for (size_t i = 0; i < result_.outputs.size(); ++i) {
      outputs.Set(static_cast<uint32_t>(i), TensorToJs(env, result_.outputs[i].get()));
    }
    if (settled_inline) outputs.Set("settledInline", true);
    deferred_.Resolve(outputs);
  });
}

}  // namespace tfserve
