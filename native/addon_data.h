// Per-env state of the addon (worker threads each get their own).
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace tfserve {

class JsRunTask;

void DeliverRun(Napi::Env env, Napi::Function unused, void* context, JsRunTask* task);
using RunDelivery = Napi::TypedThreadSafeFunction<void, JsRunTask, DeliverRun>;

// Carries finished runs from scheduler threads back to one env's thread.
// Node deletes a thread-safe function when its env is torn down, whoever
// still holds it; the gate closes first (an env cleanup hook), and threads
// only call the delivery with the gate held open.
struct DeliveryGate {
  std::mutex mutex;
  bool open = true;
  RunDelivery delivery;
  // Cancellable runs submitted from this env and not yet delivered or
  // discarded: their cancel flags live in this env's memory.
  std::unordered_set<JsRunTask*> in_flight;
  // Finished runs waiting for the env's thread. Only the run that finds it
  // empty calls the delivery, and the env's thread takes them all at once:
  // a batch's 64 results cost one call and one wake-up, not 64 calls whose
  // locking the JS thread would contend with while it drains them.
  std::vector<JsRunTask*> ready;
};

struct AddonData {
  explicit AddonData(Napi::Env env);

  Napi::FunctionReference model_constructor;
  Napi::FunctionReference tflite_constructor;  // NativeTfliteModel
  std::shared_ptr<DeliveryGate> gate;
  // Runs in flight from this env; the delivery handle keeps the event loop
  // alive only while there are some (JS thread only).
  size_t pending_runs = 0;
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace tfserve
