#include "op_libraries.h"

#include <algorithm>

#include "tf_error.h"

namespace tfserve {

OpLibraries& OpLibraries::Instance() {
  static OpLibraries instance;
  return instance;
}

void OpLibraries::Load(const std::vector<std::string>& paths) {
  // Held across TF_LoadLibrary: two threads asking for the same library must
  // not both register its ops (TF refuses an op registered twice).
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& path : paths) {
    bool loaded = std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.info.path == path; });
    if (loaded) continue;
    StatusPtr status = NewStatus();
    LibraryPtr library(TF_LoadLibrary(path.c_str(), status.get()));
    if (TF_GetCode(status.get()) != TF_OK || !library) {
      std::string why = TF_GetCode(status.get()) != TF_OK ? TF_Message(status.get()) : "TensorFlow returned no handle";
      throw TfError(TF_GetCode(status.get()) != TF_OK ? TF_GetCode(status.get()) : TF_INTERNAL,
                    "op library '" + path + "' did not load: " + why);
    }
    TF_Buffer ops = TF_GetOpList(library.get());
    Entry entry{{path, std::string(static_cast<const char*>(ops.data), ops.length)}, std::move(library)};
    entries_.push_back(std::move(entry));
  }
}

std::vector<LoadedOpLibrary> OpLibraries::Loaded() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<LoadedOpLibrary> result;
  result.reserve(entries_.size());
  for (const auto& entry : entries_) result.push_back(entry.info);
  return result;
}

}  // namespace tfserve
