// Per-env state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

namespace tfserve {

struct AddonData {
  Napi::FunctionReference model_constructor;
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace tfserve
