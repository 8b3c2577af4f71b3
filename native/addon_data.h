// Per-env state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

#include <cstddef>

namespace tfserve {

class JsRunTask;

void DeliverRun(Napi::Env env, Napi::Function unused, void* context, JsRunTask* task);
using RunDelivery = Napi::TypedThreadSafeFunction<void, JsRunTask, DeliverRun>;

struct AddonData {
  explicit AddonData(Napi::Env env);
  ~AddonData();

  Napi::FunctionReference model_constructor;
  // Carries finished runs from scheduler threads back to this env's thread.
  RunDelivery delivery;
  // Runs in flight from this env; the delivery handle keeps the event loop
  // alive only while there are some (JS thread only).
  size_t pending_runs = 0;
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace tfserve
