#include "tflite_api.h"

#include <dlfcn.h>

#include <memory>
#include <mutex>

#include "tf_error.h"

namespace tfserve {
namespace litert {

namespace {

// Resolves `name` into `slot`; the symbol's C type is the slot's.
template <typename Fn>
void Resolve(void* library, const std::string& path, const char* name, Fn*& slot) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    throw TfError(TF_FAILED_PRECONDITION, "the LiteRT library " + path + " does not export " + name +
                                              ": tfserve needs ai-edge-litert's libLiteRt.so (2.x)");
  }
  slot = reinterpret_cast<Fn*>(symbol);
}

Api OpenApi(const std::string& path) {
  // Closed again when a function is missing (not the library tfserve needs);
  // kept open for the life of the process once every function resolved.
  std::unique_ptr<void, int (*)(void*)> handle(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL), dlclose);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw TfError(TF_FAILED_PRECONDITION, "cannot open the LiteRT library " + path + ": " + (why ? why : "unknown error"));
  }
  void* library = handle.get();
  Api api{};
  Resolve(library, path, "LiteRtCreateEnvironment", api.CreateEnvironment);
  Resolve(library, path, "LiteRtDestroyEnvironment", api.DestroyEnvironment);
  Resolve(library, path, "LiteRtCreateModelFromFile", api.CreateModelFromFile);
  Resolve(library, path, "LiteRtDestroyModel", api.DestroyModel);
  Resolve(library, path, "LiteRtGetModelMetadata", api.GetModelMetadata);
  Resolve(library, path, "LiteRtGetNumModelSignatures", api.GetNumModelSignatures);
  Resolve(library, path, "LiteRtGetModelSignature", api.GetModelSignature);
  Resolve(library, path, "LiteRtGetSignatureKey", api.GetSignatureKey);
  Resolve(library, path, "LiteRtGetNumSignatureInputs", api.GetNumSignatureInputs);
  Resolve(library, path, "LiteRtGetSignatureInputName", api.GetSignatureInputName);
  Resolve(library, path, "LiteRtGetSignatureInputTensorByIndex", api.GetSignatureInputTensorByIndex);
  Resolve(library, path, "LiteRtGetNumSignatureOutputs", api.GetNumSignatureOutputs);
  Resolve(library, path, "LiteRtGetSignatureOutputName", api.GetSignatureOutputName);
  Resolve(library, path, "LiteRtGetSignatureOutputTensorByIndex", api.GetSignatureOutputTensorByIndex);
  Resolve(library, path, "LiteRtGetTensorName", api.GetTensorName);
  Resolve(library, path, "LiteRtGetTensorTypeId", api.GetTensorTypeId);
  Resolve(library, path, "LiteRtGetRankedTensorType", api.GetRankedTensorType);
  Resolve(library, path, "LiteRtCreateOptions", api.CreateOptions);
  Resolve(library, path, "LiteRtSetOptionsHardwareAccelerators", api.SetOptionsHardwareAccelerators);
  Resolve(library, path, "LiteRtDestroyOptions", api.DestroyOptions);
  Resolve(library, path, "LiteRtCreateCompiledModel", api.CreateCompiledModel);
  Resolve(library, path, "LiteRtDestroyCompiledModel", api.DestroyCompiledModel);
  Resolve(library, path, "LiteRtGetCompiledModelInputTensorLayout", api.GetCompiledModelInputTensorLayout);
  Resolve(library, path, "LiteRtCompiledModelResizeInputTensorNonStrict", api.CompiledModelResizeInputTensorNonStrict);
  Resolve(library, path, "LiteRtGetCompiledModelOutputTensorLayouts", api.GetCompiledModelOutputTensorLayouts);
  Resolve(library, path, "LiteRtRunCompiledModel", api.RunCompiledModel);
  Resolve(library, path, "LiteRtCreateManagedTensorBuffer", api.CreateManagedTensorBuffer);
  Resolve(library, path, "LiteRtDestroyTensorBuffer", api.DestroyTensorBuffer);
  Resolve(library, path, "LiteRtLockTensorBuffer", api.LockTensorBuffer);
  Resolve(library, path, "LiteRtUnlockTensorBuffer", api.UnlockTensorBuffer);
  handle.release();  // kept open on purpose (see LoadApi)
  return api;
}

}  // namespace

const Api& LoadApi(const std::string& path) {
  static std::mutex mutex;
  static bool loaded = false;
  static Api api;
  std::lock_guard<std::mutex> lock(mutex);
  // A failed open is retried on the next load: the library may have been provisioned since.
  if (!loaded) {
    api = OpenApi(path);
    loaded = true;
  }
  return api;
}

std::string StatusName(Status status) {
  const char* name = nullptr;
  switch (status) {
    case 0: name = "kLiteRtStatusOk"; break;
    case 1: name = "kLiteRtStatusErrorInvalidArgument"; break;
    case 2: name = "kLiteRtStatusErrorMemoryAllocationFailure"; break;
    case 3: name = "kLiteRtStatusErrorRuntimeFailure"; break;
    case 4: name = "kLiteRtStatusErrorMissingInputTensor"; break;
    case 5: name = "kLiteRtStatusErrorUnsupported"; break;
    case 6: name = "kLiteRtStatusErrorNotFound"; break;
    case 7: name = "kLiteRtStatusErrorTimeoutExpired"; break;
    case 8: name = "kLiteRtStatusErrorWrongVersion"; break;
    case 9: name = "kLiteRtStatusErrorUnknown"; break;
    case 10: name = "kLiteRtStatusErrorAlreadyExists"; break;
    case 100: name = "kLiteRtStatusCancelled"; break;
    case 500: name = "kLiteRtStatusErrorFileIO"; break;
    case 501: name = "kLiteRtStatusErrorInvalidFlatbuffer"; break;
    case 502: name = "kLiteRtStatusErrorDynamicLoading"; break;
    case 504: name = "kLiteRtStatusErrorCompilation"; break;
    default: break;
  }
  return std::string(name ? name : "LiteRtStatus") + " (" + std::to_string(status) + ")";
}

}  // namespace litert
}  // namespace tfserve
