// One loaded TFLite model, run through LiteRT's compiled-model C API
// (tflite_api.h). Owns its LiteRT handles; runs are serialized on it (a
// compiled model keeps its input shapes and buffers between runs, as a TFLite
// interpreter does), and each run resizes inputs to the request's shapes
// first, as TF Serving's TfLiteSession does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tflite_api.h"

namespace tfserve {

struct TfliteTensorInfo {
  std::string name;         // the signature's name for it
  std::string tensor_name;  // the model's tensor name
  int element_type = 0;     // litert::ElementType
  std::optional<std::vector<int64_t>> shape;  // absent when unranked
};

struct TfliteSignatureInfo {
  std::string key;
  std::vector<TfliteTensorInfo> inputs;
  std::vector<TfliteTensorInfo> outputs;
};

// An input as the JS thread copied it.
struct TfliteFeed {
  size_t index = 0;  // in the signature's inputs
  int element_type = 0;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

struct TfliteOutput {
  int element_type = 0;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

// Bytes per element of the numeric types tfserve feeds, 0 for the others.
size_t TfliteElementSize(int element_type);

class TfliteModel {
 public:
  // Opens the library (once per process), reads and compiles `model_path`
  // for the CPU, and checks that every signature can be prepared. Throws
  // TfError: FAILED_PRECONDITION (no library), INVALID_ARGUMENT (not a
  // TFLite model), INTERNAL (LiteRT refused it).
  static std::shared_ptr<TfliteModel> Load(const std::string& library_path, const std::string& model_path);

  const std::vector<TfliteSignatureInfo>& signatures() const { return signatures_; }
  // The model's "signature_defs_metadata" buffer (TF Serving's SignatureDefs), if any.
  const std::optional<std::string>& signature_defs_metadata() const { return signature_defs_metadata_; }

  // Runs signature `signature` with every one of its inputs; returns the
  // outputs at `outputs` (indices into the signature's outputs). Throws
  // TfError: INVALID_ARGUMENT for feeds that do not fit, INTERNAL when LiteRT fails.
  std::vector<TfliteOutput> Run(size_t signature, const std::vector<TfliteFeed>& feeds, const std::vector<size_t>& outputs);

  static size_t LiveCount();
  ~TfliteModel();
  TfliteModel(const TfliteModel&) = delete;
  TfliteModel& operator=(const TfliteModel&) = delete;

 private:
  explicit TfliteModel(const litert::Api& api);

  template <typename T>
  using Handle = std::unique_ptr<T, void (*)(T*)>;

  const litert::Api& api_;
  // Declared in creation order, so destroyed compiled model first, environment last.
  Handle<litert::EnvironmentT> env_;
  Handle<litert::ModelT> model_;
  Handle<litert::OptionsT> options_;
  Handle<litert::CompiledModelT> compiled_;
  std::vector<TfliteSignatureInfo> signatures_;
  std::optional<std::string> signature_defs_metadata_;
  std::mutex run_mutex_;
};

}  // namespace tfserve
