#include "js_run_task.h"

#include <utility>

#include "js_error.h"
#include "tensor_marshal.h"

namespace tfserve {

AddonData::AddonData(Napi::Env env)
    : delivery(RunDelivery::New(env, "tfserve.run", 0, 1, static_cast<void*>(nullptr))) {
  delivery.Unref(env);
}

AddonData::~AddonData() { delivery.Release(); }

void DeliverRun(Napi::Env env, Napi::Function, void*, JsRunTask* task) {
  if (env == nullptr) {
    task->Discard();
  } else {
    task->Deliver(env);
  }
}

JsRunTask::JsRunTask(Napi::Env env, std::shared_ptr<SavedModel> model, std::vector<OwnedTensor> inputs,
                     Napi::Int32Array cancel)
    : deferred_(Napi::Promise::Deferred::New(env)),
      model_(std::move(model)),
      owned_(std::move(inputs)),
      delivery_(GetAddonData(env).delivery) {
  for (const auto& input : owned_) inputs_.push_back(input.get());
  if (!cancel.IsEmpty() && cancel.ElementLength() >= 1) {
    cancel_ = Napi::Persistent(cancel);
    cancelled = reinterpret_cast<const std::atomic<int32_t>*>(cancel.Data());
  }
}

Napi::Promise JsRunTask::Submit(std::unique_ptr<JsRunTask> task, std::shared_ptr<const RunSpec> spec,
                                const BatchingParams* batching) {
  Napi::Env env = task->deferred_.Env();
  AddonData& data = GetAddonData(env);
  if (task->delivery_.Acquire() != napi_ok) {
    throw MakeJsError(env, "UNAVAILABLE", "this thread is shutting down");
  }
  if (data.pending_runs++ == 0) data.delivery.Ref(env);
  Napi::Promise promise = task->Promise();
  SavedModel* model = task->model_.get();
  model->Submit(std::move(task), std::move(spec), batching);
  return promise;
}

void JsRunTask::Complete(RunResult result) {
  result_ = std::move(result);
  RunDelivery delivery = delivery_;
  napi_status status = delivery.BlockingCall(this);
  delivery.Release();
  if (status != napi_ok) Discard();
}

void JsRunTask::Discard() {
  std::unique_ptr<JsRunTask> self(this);
  cancel_.SuppressDestruct();  // its env is gone: nothing left to unref
}

void JsRunTask::Deliver(Napi::Env env) {
  std::unique_ptr<JsRunTask> self(this);
  AddonData& data = GetAddonData(env);
  if (--data.pending_runs == 0) data.delivery.Unref(env);
  Napi::HandleScope scope(env);
  if (result_.code != TF_OK) {
    deferred_.Reject(MakeJsError(env, CodeName(result_.code), result_.message).Value());
    return;
  }
  try {
    Napi::Array outputs = Napi::Array::New(env, result_.outputs.size());
    for (size_t i = 0; i < result_.outputs.size(); ++i) {
      outputs.Set(static_cast<uint32_t>(i), TensorToJs(env, result_.outputs[i].get()));
    }
    deferred_.Resolve(outputs);
  } catch (const Napi::Error& error) {
    deferred_.Reject(error.Value());
  }
}

}  // namespace tfserve
