#include "model_registry.h"

namespace tfserve {

ModelRegistry& ModelRegistry::Instance() {
  static ModelRegistry registry;
  return registry;
}

void ModelRegistry::PruneLocked() {
  for (auto it = slots_.begin(); it != slots_.end();) {
    // use_count() == 1: no thread is loading through this slot right now.
    if (it->second->model.expired() && it->second.use_count() == 1) {
      it = slots_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<SavedModel> ModelRegistry::Acquire(const LoadOptions& options) {
  const std::string key = options.Key();
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    PruneLocked();
    auto& entry = slots_[key];
    if (!entry) entry = std::make_shared<Slot>();
    slot = entry;
  }
  std::lock_guard<std::mutex> load_lock(slot->load_mutex);
  if (auto live = slot->model.lock()) return live;
  auto loaded = SavedModel::Load(options);
  slot->model = loaded;
  return loaded;
}

}  // namespace tfserve
