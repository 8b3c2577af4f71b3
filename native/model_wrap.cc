#include "model_wrap.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "js_error.h"
#include "promise_worker.h"
#include "tensor_marshal.h"

namespace tfserve {

namespace {

class RunWorker : public PromiseWorker {
 public:
  RunWorker(Napi::Env env, std::shared_ptr<SavedModel> model)
      : PromiseWorker(env), model_(std::move(model)) {}

  std::vector<std::string> feed_names;
  std::vector<InputTensor> feeds;
  std::vector<std::string> fetch_names;

 protected:
  void Work() override {
    std::vector<TF_Tensor*> values;
    values.reserve(feeds.size());
    for (const auto& feed : feeds) values.push_back(feed.get());
    outputs_ = model_->Run(feed_names, values, fetch_names);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array result = Napi::Array::New(env, outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) {
      result.Set(static_cast<uint32_t>(i), TensorToJs(env, outputs_[i].get()));
    }
    return result;
  }

 private:
  std::shared_ptr<SavedModel> model_;
  std::vector<TensorPtr> outputs_;
};

class ReleaseWorker : public PromiseWorker {
 public:
  ReleaseWorker(Napi::Env env, std::shared_ptr<SavedModel> model)
      : PromiseWorker(env), model_(std::move(model)) {}

 protected:
  void Work() override { model_.reset(); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<SavedModel> model_;
};

std::string StringAt(Napi::Env env, Napi::Object object, const char* key, const std::string& what) {
  Napi::Value value = object.Get(key);
  if (!value.IsString()) {
    throw MakeJsError(env, "INVALID_ARGUMENT", what + ": " + key + " must be a string");
  }
  return value.As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod<&ModelWrap::Run>("run"),
                      InstanceMethod<&ModelWrap::Release>("release")});
}

Napi::Object ModelWrap::New(Napi::Env env, std::shared_ptr<SavedModel> model) {
  Napi::Object object = GetAddonData(env).model_constructor.New({});
  Unwrap(object)->model_ = std::move(model);
  return object;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

Napi::Value ModelWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!model_) throw MakeJsError(env, "FAILED_PRECONDITION", "the model was unloaded");
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray()) {
    throw MakeJsError(env, "INVALID_ARGUMENT", "run(feeds, fetches) takes two arrays");
  }
  auto worker = std::make_unique<RunWorker>(env, model_);
  {
    Napi::Array feeds = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < feeds.Length(); ++i) {
      Napi::Value feed = feeds.Get(i);
      std::string what = "feed " + std::to_string(i);
      if (!feed.IsObject()) throw MakeJsError(env, "INVALID_ARGUMENT", what + " must be an object");
      Napi::Object object = feed.As<Napi::Object>();
      worker->feed_names.push_back(StringAt(env, object, "name", what));
      worker->feeds.push_back(TensorFromJs(env, object, worker->feed_names.back()));
    }
    Napi::Array fetches = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < fetches.Length(); ++i) {
      Napi::Value fetch = fetches.Get(i);
      if (!fetch.IsString()) {
        throw MakeJsError(env, "INVALID_ARGUMENT", "fetch " + std::to_string(i) + " must be a string");
      }
      worker->fetch_names.push_back(fetch.As<Napi::String>().Utf8Value());
    }
  }
  return PromiseWorker::Submit(std::move(worker));
}

Napi::Value ModelWrap::Release(const Napi::CallbackInfo& info) {
  return PromiseWorker::Submit(std::make_unique<ReleaseWorker>(info.Env(), std::move(model_)));
}

}  // namespace tfserve
