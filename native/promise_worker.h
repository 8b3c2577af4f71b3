// An AsyncWorker that settles a Promise: Work() runs on a libuv pool thread
// (TensorFlow never runs on the JS thread), Result() builds the value on the
// JS thread. TfError codes survive the trip as `error.code`.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

namespace tfserve {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Hands the worker to libuv, which deletes it once the promise settles.
  static Napi::Promise Submit(std::unique_ptr<PromiseWorker> worker) {
    Napi::Promise promise = worker->deferred_.Promise();
    worker.release()->Queue();
    return promise;
  }

 protected:
  virtual void Work() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;

  Napi::Promise::Deferred deferred_;
  std::string code_ = "INTERNAL";
};

}  // namespace tfserve
