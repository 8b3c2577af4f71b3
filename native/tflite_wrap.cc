#include "tflite_wrap.h"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "js_error.h"
#include "promise_worker.h"

namespace tfserve {

namespace {

Napi::Value ShapeToJs(Napi::Env env, const std::vector<int64_t>& dims) {
  Napi::Array shape = Napi::Array::New(env, dims.size());
  for (size_t i = 0; i < dims.size(); ++i) shape.Set(static_cast<uint32_t>(i), static_cast<double>(dims[i]));
  return shape;
}

Napi::Object TensorInfoToJs(Napi::Env env, const TfliteTensorInfo& info) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("name", info.name);
  object.Set("tensorName", info.tensor_name);
  object.Set("elementType", info.element_type);
  object.Set("shape", info.shape ? ShapeToJs(env, *info.shape) : env.Null());
  return object;
}

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string library, std::string path)
      : PromiseWorker(env), library_(std::move(library)), path_(std::move(path)) {}

 protected:
  void Work() override { model_ = TfliteModel::Load(library_, path_); }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    Napi::Array signatures = Napi::Array::New(env, model_->signatures().size());
    for (size_t s = 0; s < model_->signatures().size(); ++s) {
      const TfliteSignatureInfo& info = model_->signatures()[s];
      Napi::Object signature = Napi::Object::New(env);
      signature.Set("key", info.key);
      Napi::Array inputs = Napi::Array::New(env, info.inputs.size());
      for (size_t i = 0; i < info.inputs.size(); ++i) inputs.Set(static_cast<uint32_t>(i), TensorInfoToJs(env, info.inputs[i]));
      Napi::Array outputs = Napi::Array::New(env, info.outputs.size());
      for (size_t i = 0; i < info.outputs.size(); ++i) outputs.Set(static_cast<uint32_t>(i), TensorInfoToJs(env, info.outputs[i]));
      signature.Set("inputs", inputs);
      signature.Set("outputs", outputs);
      signatures.Set(static_cast<uint32_t>(s), signature);
    }
    result.Set("signatures", signatures);
    const auto& metadata = model_->signature_defs_metadata();
    result.Set("signatureDefsMetadata", metadata ? Napi::Buffer<char>::Copy(env, metadata->data(), metadata->size()).As<Napi::Value>() : env.Null());
    result.Set("model", TfliteWrap::New(env, std::move(model_)));
    return result;
  }

 private:
  std::string library_;
  std::string path_;
  std::shared_ptr<TfliteModel> model_;
};

class RunWorker : public PromiseWorker {
 public:
  RunWorker(Napi::Env env, std::shared_ptr<TfliteModel> model, size_t signature, std::vector<TfliteFeed> feeds, std::vector<size_t> outputs)
      : PromiseWorker(env), model_(std::move(model)), signature_(signature), feeds_(std::move(feeds)), outputs_(std::move(outputs)) {}

 protected:
  void Work() override {
    results_ = model_->Run(signature_, feeds_, outputs_);
    feeds_.clear();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array outputs = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); ++i) {
      const TfliteOutput& out = results_[i];
      Napi::Object tensor = Napi::Object::New(env);
      tensor.Set("elementType", out.element_type);
      tensor.Set("shape", ShapeToJs(env, out.dims));
      Napi::ArrayBuffer data = Napi::ArrayBuffer::New(env, out.bytes.size());
      if (!out.bytes.empty()) std::memcpy(data.Data(), out.bytes.data(), out.bytes.size());
      tensor.Set("data", data);
      outputs.Set(static_cast<uint32_t>(i), tensor);
    }
    return outputs;
  }

 private:
  std::shared_ptr<TfliteModel> model_;
  size_t signature_;
  std::vector<TfliteFeed> feeds_;
  std::vector<size_t> outputs_;
  std::vector<TfliteOutput> results_;
};

class ReleaseWorker : public PromiseWorker {
 public:
  ReleaseWorker(Napi::Env env, std::shared_ptr<TfliteModel> model) : PromiseWorker(env), model_(std::move(model)) {}

 protected:
  void Work() override { model_.reset(); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<TfliteModel> model_;
};

// A non-negative integer below `limit`, or throws INVALID_ARGUMENT naming `what`.
size_t ReadIndex(Napi::Env env, Napi::Value value, double limit, const std::string& what) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= 0 && number < limit) || number != std::floor(number)) {
    throw InvalidArgument(env, what + " must be an integer in [0, " + std::to_string(static_cast<int64_t>(limit)) + ")");
  }
  return static_cast<size_t>(number);
}

// Copies a typed array's bytes (on an ArrayBuffer or a SharedArrayBuffer).
std::vector<uint8_t> CopyView(Napi::Env env, Napi::Value value, const std::string& what) {
  if (!value.IsTypedArray()) throw InvalidArgument(env, what + ": data must be a typed array");
  napi_typedarray_type type;
  size_t elements = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &elements, &data, nullptr, nullptr) != napi_ok) {
    throw InvalidArgument(env, what + ": cannot read its typed array");
  }
  const size_t length = value.As<Napi::TypedArray>().ByteLength();
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(bytes, bytes + length);
}

}  // namespace

Napi::Function TfliteWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeTfliteModel",
                     {InstanceMethod<&TfliteWrap::Run>("run"), InstanceMethod<&TfliteWrap::Release>("release")});
}

Napi::Object TfliteWrap::New(Napi::Env env, std::shared_ptr<TfliteModel> model) {
  Napi::Object handle = GetAddonData(env).tflite_constructor.New({});
  Unwrap(handle)->model_ = std::move(model);
  return handle;
}

TfliteWrap::TfliteWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TfliteWrap>(info) {}

Napi::Value TfliteWrap::Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!model_) throw MakeJsError(env, "FAILED_PRECONDITION", "the TFLite model was released");
  if (info.Length() < 3 || !info[1].IsArray() || !info[2].IsArray()) {
    throw InvalidArgument(env, "run(signature, feeds, outputs) takes a number and two arrays");
  }
  const size_t signature = ReadIndex(env, info[0], static_cast<double>(model_->signatures().size()), "signature");
  Napi::Array feeds_js = info[1].As<Napi::Array>();
  std::vector<TfliteFeed> feeds;
  feeds.reserve(feeds_js.Length());
  for (uint32_t i = 0; i < feeds_js.Length(); ++i) {
    Napi::Value item = feeds_js.Get(i);
    const std::string what = "feed " + std::to_string(i);
    if (!item.IsObject()) throw InvalidArgument(env, what + " must be an object");
    Napi::Object feed_js = item.As<Napi::Object>();
    TfliteFeed feed;
    feed.index = ReadIndex(env, feed_js.Get("index"), 1 << 30, what + ".index");
    feed.element_type = static_cast<int>(ReadIndex(env, feed_js.Get("elementType"), 1 << 30, what + ".elementType"));
    Napi::Value shape_value = feed_js.Get("shape");
    if (!shape_value.IsArray()) throw InvalidArgument(env, what + ".shape must be an array");
    Napi::Array shape = shape_value.As<Napi::Array>();
    // Ranks past LiteRT's are refused by the model with a message; this bound only stops a huge array.
    if (shape.Length() > 254) throw InvalidArgument(env, what + ".shape has too many dimensions");
    for (uint32_t d = 0; d < shape.Length(); ++d) {
      feed.dims.push_back(static_cast<int64_t>(ReadIndex(env, shape.Get(d), 9007199254740992.0, what + ".shape[" + std::to_string(d) + "]")));
    }
    feed.bytes = CopyView(env, feed_js.Get("data"), what);
    feeds.push_back(std::move(feed));
  }
  Napi::Array outputs_js = info[2].As<Napi::Array>();
  std::vector<size_t> outputs;
  for (uint32_t i = 0; i < outputs_js.Length(); ++i) outputs.push_back(ReadIndex(env, outputs_js.Get(i), 1 << 30, "outputs[" + std::to_string(i) + "]"));
  return PromiseWorker::Submit(std::make_unique<RunWorker>(env, model_, signature, std::move(feeds), std::move(outputs)));
}

Napi::Value TfliteWrap::Release(const Napi::CallbackInfo& info) {
  return PromiseWorker::Submit(std::make_unique<ReleaseWorker>(info.Env(), std::move(model_)));
}

Napi::Value LoadTfliteModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw InvalidArgument(env, "loadTfliteModel(libraryPath, modelPath) takes two strings");
  }
  return PromiseWorker::Submit(
      std::make_unique<LoadWorker>(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value()));
}

Napi::Value LiveTfliteModels(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(TfliteModel::LiveCount()));
}

}  // namespace tfserve
