// The JS side of a TFLite model: loadTfliteModel() and its handle's run(),
// release(). Loads and runs are AsyncWorkers (libuv pool threads): LiteRT
// never runs on the JS thread.
#pragma once

#include <napi.h>

#include <memory>

#include "tflite_model.h"

namespace tfserve {

class TfliteWrap : public Napi::ObjectWrap<TfliteWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object New(Napi::Env env, std::shared_ptr<TfliteModel> model);

  explicit TfliteWrap(const Napi::CallbackInfo& info);

 private:
  // run(signature: number, feeds: {index, elementType, shape, data}[], outputs: number[])
  //   -> Promise<{elementType, shape, data: ArrayBuffer}[]>
  Napi::Value Run(const Napi::CallbackInfo& info);
  // release() -> Promise<void>: the model is freed once no run holds it.
  Napi::Value Release(const Napi::CallbackInfo& info);

  std::shared_ptr<TfliteModel> model_;
};

// loadTfliteModel(libraryPath: string, modelPath: string)
//   -> Promise<{ model, signatures: [{key, inputs, outputs}], signatureDefsMetadata: Buffer | null }>
Napi::Value LoadTfliteModel(const Napi::CallbackInfo& info);

// TFLite models alive in this process, across all threads.
Napi::Value LiveTfliteModels(const Napi::CallbackInfo& info);

}  // namespace tfserve
