// The JS handle on a shared SavedModel: run(), setBatching(), batchingStats(), release().
#pragma once

#include <napi.h>

#include <memory>
#include <optional>

#include "batching_params.h"
#include "saved_model.h"

namespace tfserve {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object New(Napi::Env env, std::shared_ptr<SavedModel> model);

  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  // run(feeds: {name, dtype, shape, data}[], fetches: string[],
  //     options?: { timeoutMs?: number, cancel?: Int32Array }) -> Promise<tensor[]>
  Napi::Value Run(const Napi::CallbackInfo& info);
  // setBatching(params | null): later runs from this handle are batched with
  // TF Serving's BatchingParameters (camelCase keys), or not at all.
  Napi::Value SetBatching(const Napi::CallbackInfo& info);
  // batchingStats() -> [{ key, batches, requests, rows, paddedRows, queueSeconds, queuedRequests, sizeBuckets, queueBuckets }]
  Napi::Value BatchingStats(const Napi::CallbackInfo& info);
  // release() -> Promise<void>; the session closes off the JS thread once no
  // run holds it any more.
  Napi::Value Release(const Napi::CallbackInfo& info);

  std::shared_ptr<SavedModel> model_;
  std::optional<BatchingParams> batching_;
};

}  // namespace tfserve
