// Process-wide registry of loaded SavedModels. Every worker thread loads the
// addon into its own env, but all of them share one session per
// (export dir, tags, config): loading per thread would multiply memory.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "saved_model.h"

namespace tfserve {

class ModelRegistry {
 public:
  static ModelRegistry& Instance();

  // Returns the live session for these options or loads it (blocking). Two
  // threads asking for the same model concurrently share one load.
  std::shared_ptr<SavedModel> Acquire(const LoadOptions& options);

 private:
  struct Slot {
    std::mutex load_mutex;
    std::weak_ptr<SavedModel> model;
  };
  void PruneLocked();

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace tfserve
