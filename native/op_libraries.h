// Op libraries (TF Text's, users' own) loaded with TF_LoadLibrary. Ops and
// kernels register process-wide, so each library is loaded once per process,
// whichever thread or env asks first, and kept for the life of the process:
// TF has no way to unregister them, and graphs may hold their kernels.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tf_handles.h"

namespace tfserve {

struct LibraryDeleter {
  // Frees the handle and its op list; the library itself stays mapped.
  void operator()(TF_Library* library) const { TF_DeleteLibraryHandle(library); }
};
using LibraryPtr = std::unique_ptr<TF_Library, LibraryDeleter>;

struct LoadedOpLibrary {
  std::string path;
  std::string op_list;  // serialized tensorflow.OpList of the ops it registered
};

class OpLibraries {
 public:
  static OpLibraries& Instance();

  // Loads those of `paths` not loaded yet, in order; throws TfError naming
  // the library that fails (those before it stay loaded). Blocks.
  void Load(const std::vector<std::string>& paths);

  // Every library loaded so far, in load order.
  std::vector<LoadedOpLibrary> Loaded();

 private:
  struct Entry {
    LoadedOpLibrary info;
    LibraryPtr handle;
  };
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace tfserve
