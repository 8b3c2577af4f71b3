// The JS handle on a shared SavedModel: run(feeds, fetches) and release().
#pragma once

#include <napi.h>

#include <memory>

#include "saved_model.h"

namespace tfserve {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object New(Napi::Env env, std::shared_ptr<SavedModel> model);

  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  // run(feeds: {name, dtype, shape, data}[], fetches: string[]) -> Promise<tensor[]>
  Napi::Value Run(const Napi::CallbackInfo& info);
  // release() -> Promise<void>; the session closes off the JS thread once no
  // run holds it any more.
  Napi::Value Release(const Napi::CallbackInfo& info);

  std::shared_ptr<SavedModel> model_;
};

}  // namespace tfserve
