#include "promise_worker.h"

#include "js_error.h"
#include "tf_error.h"

namespace tfserve {

void PromiseWorker::Execute() {
  try {
    Work();
  } catch (const TfError& error) {
    code_ = error.code_name();
    SetError(error.what());
  } catch (const std::exception& error) {
    SetError(error.what());
  }
}

void PromiseWorker::OnOK() {
  SettleDeferred(deferred_, [&] { deferred_.Resolve(Result(Env())); });
}

void PromiseWorker::OnError(const Napi::Error& error) {
  SettleDeferred(deferred_, [&] { deferred_.Reject(MakeJsError(Env(), code_.c_str(), error.Message()).Value()); });
}

}  // namespace tfserve
