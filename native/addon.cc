// Module entry: loadSavedModel(), loadOpLibraries(), tfVersion(), queueBucketBounds(), liveSessions(),
// loadTfliteModel(), liveTfliteModels(), nameThread(), listenTcp(), dupFd(), closeFd().
#include <napi.h>

#include <exception>
#include <memory>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "js_error.h"
#include "listen_socket.h"
#include "batcher.h"
#include "model_registry.h"
#include "model_wrap.h"
#include "op_libraries.h"
#include "promise_worker.h"
#include "run_pool.h"
#include "tflite_wrap.h"

namespace tfserve {

namespace {

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, LoadOptions options)
      : PromiseWorker(env), options_(std::move(options)) {}

 protected:
  // On a thread of its own, lowered in priority: TF creates its compute
  // thread pools with the first session, and they inherit that priority.
  void Work() override {
    std::exception_ptr error;
    std::thread loader([this, &error] {
      DeprioritizeComputeThread();
      NameThisThread("tf-session");
      try {
        model_ = ModelRegistry::Instance().Acquire(options_);
      } catch (...) {
        error = std::current_exception();
      }
    });
    loader.join();
    if (error) std::rethrow_exception(error);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    const std::string& meta = model_->meta_graph_def();
    result.Set("metaGraphDef", Napi::Buffer<char>::Copy(env, meta.data(), meta.size()));
    const std::string& config = model_->config_proto();
    result.Set("sessionConfig", Napi::Buffer<char>::Copy(env, config.data(), config.size()));
    const auto& devices = model_->devices();
    Napi::Array list = Napi::Array::New(env, devices.size());
    for (size_t i = 0; i < devices.size(); ++i) {
      Napi::Object device = Napi::Object::New(env);
      device.Set("name", devices[i].name);
      device.Set("type", devices[i].type);
      // A double holds any real memory size exactly (< 2^53 bytes).
      device.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(devices[i].memory_bytes)));
      list.Set(static_cast<uint32_t>(i), device);
    }
    result.Set("devices", list);
    result.Set("model", ModelWrap::New(env, std::move(model_)));
    return result;
  }

 private:
  LoadOptions options_;
  std::shared_ptr<SavedModel> model_;
};

// loadSavedModel(exportDir: string, tags: string[], configProto: Uint8Array)
//   -> Promise<{ model: NativeModel, metaGraphDef: Buffer, sessionConfig: Buffer,
//               devices: { name, type, memoryBytes }[] }>
Napi::Value LoadSavedModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() ||
      !info[2].IsTypedArray()) {
    throw InvalidArgument(env,
                      "loadSavedModel(exportDir, tags, configProto) takes a string, an array "
                      "of strings and a Uint8Array");
  }
  LoadOptions options;
  options.export_dir = info[0].As<Napi::String>().Utf8Value();
  Napi::Array tags = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < tags.Length(); ++i) {
    Napi::Value tag = tags.Get(i);
    if (!tag.IsString()) throw InvalidArgument(env, "tags must be strings");
    options.tags.push_back(tag.As<Napi::String>().Utf8Value());
  }
  Napi::Uint8Array config = info[2].As<Napi::Uint8Array>();
  options.config_proto.assign(reinterpret_cast<const char*>(config.Data()), config.ByteLength());
  return PromiseWorker::Submit(std::make_unique<LoadWorker>(env, std::move(options)));
}

class OpLibrariesWorker : public PromiseWorker {
 public:
  OpLibrariesWorker(Napi::Env env, std::vector<std::string> paths)
      : PromiseWorker(env), paths_(std::move(paths)) {}

 protected:
  void Work() override {
    OpLibraries::Instance().Load(paths_);
    loaded_ = OpLibraries::Instance().Loaded();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array result = Napi::Array::New(env, loaded_.size());
    for (size_t i = 0; i < loaded_.size(); ++i) {
      Napi::Object library = Napi::Object::New(env);
      library.Set("path", loaded_[i].path);
      library.Set("opList", Napi::Buffer<char>::Copy(env, loaded_[i].op_list.data(), loaded_[i].op_list.size()));
      result.Set(static_cast<uint32_t>(i), library);
    }
    return result;
  }

 private:
  std::vector<std::string> paths_;
  std::vector<LoadedOpLibrary> loaded_;
};

// loadOpLibraries(paths: string[]) -> Promise<{ path: string, opList: Buffer }[]>:
// loads those not loaded yet, then lists every library loaded in the process.
Napi::Value LoadOpLibraries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw InvalidArgument(env, "loadOpLibraries(paths) takes an array of strings");
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<std::string> paths;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value path = array.Get(i);
    if (!path.IsString()) throw InvalidArgument(env, "op library paths must be strings");
    paths.push_back(path.As<Napi::String>().Utf8Value());
  }
  return PromiseWorker::Submit(std::make_unique<OpLibrariesWorker>(env, std::move(paths)));
}

Napi::Value TfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), TF_Version());
}

// Upper bounds in seconds of batchingStats().queueBuckets (the last bucket is +Inf).
Napi::Value QueueBucketBoundsJs(const Napi::CallbackInfo& info) {
  const auto& bounds = QueueBucketBounds();
  Napi::Array result = Napi::Array::New(info.Env(), bounds.size());
  for (size_t i = 0; i < bounds.size(); ++i) result.Set(static_cast<uint32_t>(i), bounds[i]);
  return result;
}

// nameThread(name: string): names the calling JS thread (a worker's, for
// per-thread CPU accounting in /proc/<pid>/task/*/stat).
Napi::Value NameThread(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw InvalidArgument(info.Env(), "nameThread(name) takes a string");
  NameThisThread(info[0].As<Napi::String>().Utf8Value().c_str());
  return info.Env().Undefined();
}

// listenTcp(host, port): { port, fd }, dupFd(fd), closeFd(fd): listening
// sockets the front-door threads share (listen_socket.h).
Napi::Value ListenTcpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) throw InvalidArgument(env, "listenTcp(host, port) takes a string and a number");
  const int port = info[1].As<Napi::Number>().Int32Value();
  if (port < 0 || port > 65535) throw InvalidArgument(env, "listenTcp: port must be 0-65535");
  ListeningSocket listening;
  try {
    listening = ListenTcp(info[0].As<Napi::String>().Utf8Value(), port);
  } catch (const std::exception& error) {
    Napi::Error failure = Napi::Error::New(env, error.what());
    failure.Set("code", "UNAVAILABLE");
    throw failure;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("port", listening.port);
  result.Set("fd", listening.fd);
  return result;
}

Napi::Value DupFdJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw InvalidArgument(info.Env(), "dupFd(fd) takes a number");
  try {
    return Napi::Number::New(info.Env(), DupFd(info[0].As<Napi::Number>().Int32Value()));
  } catch (const std::exception& error) {
    throw Napi::Error::New(info.Env(), error.what());
  }
}

Napi::Value CloseFdJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw InvalidArgument(info.Env(), "closeFd(fd) takes a number");
  CloseFd(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value LiveSessions(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SavedModel::LiveCount()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  MarkServingThread();
  auto data = std::make_unique<AddonData>(env);
  data->model_constructor = Napi::Persistent(ModelWrap::Define(env));
  data->tflite_constructor = Napi::Persistent(TfliteWrap::Define(env));
  env.SetInstanceData<AddonData>(data.release());  // freed by node-addon-api at env teardown
  exports.Set("loadSavedModel", Napi::Function::New<LoadSavedModel>(env, "loadSavedModel"));
  exports.Set("loadOpLibraries", Napi::Function::New<LoadOpLibraries>(env, "loadOpLibraries"));
  exports.Set("tfVersion", Napi::Function::New<TfVersion>(env, "tfVersion"));
  exports.Set("queueBucketBounds", Napi::Function::New<QueueBucketBoundsJs>(env, "queueBucketBounds"));
  exports.Set("liveSessions", Napi::Function::New<LiveSessions>(env, "liveSessions"));
  exports.Set("loadTfliteModel", Napi::Function::New<LoadTfliteModel>(env, "loadTfliteModel"));
  exports.Set("liveTfliteModels", Napi::Function::New<LiveTfliteModels>(env, "liveTfliteModels"));
  exports.Set("nameThread", Napi::Function::New<NameThread>(env, "nameThread"));
  exports.Set("listenTcp", Napi::Function::New<ListenTcpJs>(env, "listenTcp"));
  exports.Set("dupFd", Napi::Function::New<DupFdJs>(env, "dupFd"));
  exports.Set("closeFd", Napi::Function::New<CloseFdJs>(env, "closeFd"));
  return exports;
}

}  // namespace

}  // namespace tfserve

static Napi::Object InitTfserve(Napi::Env env, Napi::Object exports) {
  return tfserve::Init(env, exports);
}

NODE_API_MODULE(tfserve, InitTfserve)
