#include "model_wrap.h"

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "js_error.h"
#include "js_run_task.h"
#include "promise_worker.h"
#include "tensor_marshal.h"

namespace tfserve {

namespace {

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
  if (!value.IsString()) throw InvalidArgument(env, what + ": " + key + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

// An integer in [minimum, maximum], as a JS number.
int64_t ReadInteger(Napi::Env env, Napi::Value value, const std::string& name, int64_t minimum, int64_t maximum) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= static_cast<double>(minimum)) || number != std::floor(number)) {
    throw InvalidArgument(env, name + " must be an integer >= " + std::to_string(minimum));
  }
  if (number > static_cast<double>(maximum)) {
    throw InvalidArgument(env, name + " must be at most " + std::to_string(maximum));
  }
  return static_cast<int64_t>(number);
}

// Sets `*out` from an optional integer field of a batching params object.
void ReadCount(Napi::Env env, Napi::Object object, const char* key, int64_t minimum, int64_t maximum, int64_t* out) {
  Napi::Value value = object.Get(key);
  if (value.IsUndefined() || value.IsNull()) return;
  *out = ReadInteger(env, value, std::string("batching.") + key, minimum, maximum);
}

bool ReadFlag(Napi::Object object, const char* key, bool fallback) {
  Napi::Value value = object.Get(key);
  return value.IsBoolean() ? value.As<Napi::Boolean>().Value() : fallback;
}

BatchingParams ParseBatching(Napi::Env env, Napi::Object object) {
  // Counts past these are mistakes, and each batch thread is a real thread.
  constexpr int64_t kMaxCount = int64_t{1} << 53;
  constexpr int64_t kMaxBatchThreads = 1024;
  BatchingParams params;
  params.num_batch_threads = std::max(1u, std::thread::hardware_concurrency());
  ReadCount(env, object, "maxBatchSize", 1, kMaxCount, &params.max_batch_size);
  ReadCount(env, object, "batchTimeoutMicros", 0, kMaxCount, &params.batch_timeout_micros);
  ReadCount(env, object, "busyBatchTimeoutMicros", 0, kMaxCount, &params.busy_batch_timeout_micros);
  ReadCount(env, object, "numBatchThreads", 1, kMaxBatchThreads, &params.num_batch_threads);
  ReadCount(env, object, "maxEnqueuedBatches", 1, kMaxCount, &params.max_enqueued_batches);
  params.enable_large_batch_splitting = ReadFlag(object, "enableLargeBatchSplitting", false);
  params.pad_variable_length_inputs = ReadFlag(object, "padVariableLengthInputs", false);
  Napi::Value allowed = object.Get("allowedBatchSizes");
  if (allowed.IsArray()) {
    Napi::Array sizes = allowed.As<Napi::Array>();
    for (uint32_t i = 0; i < sizes.Length(); ++i) {
      const int64_t size = ReadInteger(env, sizes.Get(i), "batching.allowedBatchSizes[" + std::to_string(i) + "]", 1, kMaxCount);
      if (!params.allowed_batch_sizes.empty() && size <= params.allowed_batch_sizes.back()) {
        throw InvalidArgument(env, "batching.allowedBatchSizes must increase monotonically");
      }
      params.allowed_batch_sizes.push_back(size);
    }
    if (!params.allowed_batch_sizes.empty() && params.allowed_batch_sizes.back() != params.max_batch_size) {
      throw InvalidArgument(env, "the last of batching.allowedBatchSizes (" +
                                     std::to_string(params.allowed_batch_sizes.back()) +
                                     ") must equal batching.maxBatchSize (" + std::to_string(params.max_batch_size) + ")");
    }
  }
  return params;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod<&ModelWrap::Run>("run"),
                      InstanceMethod<&ModelWrap::SetBatching>("setBatching"),
                      InstanceMethod<&ModelWrap::BatchingStats>("batchingStats"),
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
    throw InvalidArgument(env, "run(feeds, fetches, options?) takes two arrays");
  }
  RunSpec spec;
  std::vector<OwnedTensor> inputs;
  Napi::Array feeds = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < feeds.Length(); ++i) {
    Napi::Value feed = feeds.Get(i);
    std::string what = "feed " + std::to_string(i);
    if (!feed.IsObject()) throw InvalidArgument(env, what + " must be an object");
    Napi::Object object = feed.As<Napi::Object>();
    spec.feed_names.push_back(StringAt(env, object, "name", what));
    inputs.push_back(TensorFromJs(env, object, spec.feed_names.back()));
  }
  Napi::Array fetches = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < fetches.Length(); ++i) {
    Napi::Value fetch = fetches.Get(i);
    if (!fetch.IsString()) throw InvalidArgument(env, "fetch " + std::to_string(i) + " must be a string");
    spec.fetch_names.push_back(fetch.As<Napi::String>().Utf8Value());
  }

  Napi::Int32Array cancel;
  double timeout_ms = -1;
  if (info.Length() >= 3 && info[2].IsObject()) {
    Napi::Object options = info[2].As<Napi::Object>();
    Napi::Value token = options.Get("cancel");
    if (token.IsTypedArray() && token.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
      cancel = token.As<Napi::Int32Array>();
    }
    Napi::Value timeout = options.Get("timeoutMs");
    if (timeout.IsNumber()) timeout_ms = timeout.As<Napi::Number>().DoubleValue();
  }
  auto task = std::make_unique<JsRunTask>(env, model_, std::move(inputs), cancel);
  // Beyond a year a deadline means none (and would overflow the clock).
  if (timeout_ms >= 0 && timeout_ms < 365.0 * 24 * 3600 * 1000) {
    task->deadline = task->enqueued + std::chrono::microseconds(static_cast<int64_t>(timeout_ms * 1000));
  }
  return JsRunTask::Submit(std::move(task), std::move(spec), batching_ ? &*batching_ : nullptr);
}

Napi::Value ModelWrap::SetBatching(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) {
    batching_.reset();
  } else if (info[0].IsObject()) {
    batching_ = ParseBatching(env, info[0].As<Napi::Object>());
  } else {
    throw InvalidArgument(env, "setBatching takes a params object or null");
  }
  return env.Undefined();
}

Napi::Value ModelWrap::BatchingStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array result = Napi::Array::New(env);
  if (!model_ || !batching_) return result;
  uint32_t index = 0;
  for (const auto& [key, stats] : model_->BatchingStats(*batching_)) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("key", key);
    entry.Set("batches", static_cast<double>(stats.batches));
    entry.Set("requests", static_cast<double>(stats.requests));
    entry.Set("rows", static_cast<double>(stats.rows));
    entry.Set("paddedRows", static_cast<double>(stats.padded_rows));
    entry.Set("queueSeconds", stats.queue_seconds);
    entry.Set("queuedRequests", static_cast<double>(stats.queued_requests));
    Napi::Array buckets = Napi::Array::New(env, stats.size_buckets.size());
    for (size_t i = 0; i < stats.size_buckets.size(); ++i) {
      buckets.Set(static_cast<uint32_t>(i), static_cast<double>(stats.size_buckets[i]));
    }
    entry.Set("sizeBuckets", buckets);
    Napi::Array waits = Napi::Array::New(env, stats.queue_buckets.size());
    for (size_t i = 0; i < stats.queue_buckets.size(); ++i) {
      waits.Set(static_cast<uint32_t>(i), static_cast<double>(stats.queue_buckets[i]));
    }
    entry.Set("queueBuckets", waits);
    result.Set(index++, entry);
  }
  return result;
}

Napi::Value ModelWrap::Release(const Napi::CallbackInfo& info) {
  return PromiseWorker::Submit(std::make_unique<ReleaseWorker>(info.Env(), std::move(model_)));
}

}  // namespace tfserve
