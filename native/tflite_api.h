// The part of LiteRT's C API (libLiteRt.so, from the ai-edge-litert wheel)
// that tfserve uses, declared here from the facts of LiteRT's public headers
// (litert/c/*.h: handle types, enum values, struct layouts, function
// signatures); no header ships in the wheel. The library is opened with
// dlopen on first use, so tfserve runs without it and only TFLite loads fail.
//
// Why LiteRT's API and not the classic TfLiteInterpreter* one: libLiteRt.so
// 2.3.0 exports only LiteRt* symbols (nm -D), and neither tflite-runtime nor
// the TF wheel exports a C API at all (docs/SERVING.md, "TFLite").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tfserve {
namespace litert {

// Opaque handles (LITERT_DEFINE_HANDLE in litert_common.h).
struct EnvironmentT;
struct ModelT;
struct SignatureT;
struct TensorT;
struct OptionsT;
struct CompiledModelT;
struct TensorBufferT;
using Environment = EnvironmentT*;
using Model = ModelT*;
using Signature = SignatureT*;
using Tensor = TensorT*;
using Options = OptionsT*;
using CompiledModel = CompiledModelT*;
using TensorBuffer = TensorBufferT*;

// LiteRtStatus: 0 is kLiteRtStatusOk; the others are named by StatusName().
using Status = int;
constexpr Status kOk = 0;

// LiteRtElementType values (the kTfLite* type numbers) that tfserve maps to TF dtypes.
enum ElementType : int {
  kNone = 0,
  kFloat32 = 1,
  kInt32 = 2,
  kUInt8 = 3,
  kInt64 = 4,
  kString = 5,
  kBool = 6,
  kInt16 = 7,
  kComplex64 = 8,
  kInt8 = 9,
};

constexpr int kHwAcceleratorCpu = 1;       // kLiteRtHwAcceleratorCpu
constexpr int kTensorBufferHostMemory = 1;  // kLiteRtTensorBufferTypeHostMemory
constexpr int kLockRead = 0;                // kLiteRtTensorBufferLockModeRead
constexpr int kLockWrite = 1;               // kLiteRtTensorBufferLockModeWrite
constexpr int kRankedTensorType = 0;        // kLiteRtRankedTensorType

// LiteRtLayout: LiteRT checks sizeof == 68 with dimensions at offset 4.
constexpr size_t kMaxRank = 8;  // LITERT_TENSOR_MAX_RANK
struct Layout {
  unsigned int rank : 7;
  unsigned int has_strides : 1;
  int32_t dimensions[kMaxRank];
  uint32_t strides[kMaxRank];
};
static_assert(sizeof(Layout) == 68, "LiteRtLayout layout");

// LiteRtRankedTensorType: sizeof == 72, layout at offset 4.
struct RankedTensorType {
  int element_type;
  Layout layout;
};
static_assert(sizeof(RankedTensorType) == 72, "LiteRtRankedTensorType layout");

// The functions, resolved from the library by name.
struct Api {
  Status (*CreateEnvironment)(int num_options, const void* options, Environment* env);
  void (*DestroyEnvironment)(Environment env);
  Status (*CreateModelFromFile)(Environment env, const char* filename, Model* model);
  void (*DestroyModel)(Model model);
  Status (*GetModelMetadata)(Model model, const char* key, const void** data, size_t* size);
  Status (*GetNumModelSignatures)(Model model, size_t* count);
  Status (*GetModelSignature)(Model model, size_t index, Signature* signature);
  Status (*GetSignatureKey)(Signature signature, const char** key);
  Status (*GetNumSignatureInputs)(Signature signature, size_t* count);
  Status (*GetSignatureInputName)(Signature signature, size_t index, const char** name);
  Status (*GetSignatureInputTensorByIndex)(Signature signature, size_t index, Tensor* tensor);
  Status (*GetNumSignatureOutputs)(Signature signature, size_t* count);
  Status (*GetSignatureOutputName)(Signature signature, size_t index, const char** name);
  Status (*GetSignatureOutputTensorByIndex)(Signature signature, size_t index, Tensor* tensor);
  Status (*GetTensorName)(Tensor tensor, const char** name);
  Status (*GetTensorTypeId)(Tensor tensor, int* type_id);
  Status (*GetRankedTensorType)(Tensor tensor, RankedTensorType* type);
  Status (*CreateOptions)(Options* options);
  Status (*SetOptionsHardwareAccelerators)(Options options, int accelerators);
  void (*DestroyOptions)(Options options);
  Status (*CreateCompiledModel)(Environment env, Model model, Options options, CompiledModel* compiled);
  void (*DestroyCompiledModel)(CompiledModel compiled);
  Status (*GetCompiledModelInputTensorLayout)(CompiledModel compiled, size_t signature, size_t input, Layout* layout);
  Status (*CompiledModelResizeInputTensorNonStrict)(CompiledModel compiled, size_t signature, size_t input, const int* dims, size_t rank);
  Status (*GetCompiledModelOutputTensorLayouts)(CompiledModel compiled, size_t signature, size_t count, Layout* layouts, bool update_allocation);
  Status (*RunCompiledModel)(CompiledModel compiled, size_t signature, size_t num_inputs, TensorBuffer* inputs, size_t num_outputs, TensorBuffer* outputs);
  Status (*CreateManagedTensorBuffer)(Environment env, int buffer_type, const RankedTensorType* type, size_t size, TensorBuffer* buffer);
  void (*DestroyTensorBuffer)(TensorBuffer buffer);
  Status (*LockTensorBuffer)(TensorBuffer buffer, void** address, int mode);
  Status (*UnlockTensorBuffer)(TensorBuffer buffer);
};

// The API of the library at `path`, opened once per process (later calls
// return the first library opened, whatever path they give). Throws
// TfError(FAILED_PRECONDITION) naming the path and dlerror() when the
// library or one of the functions is missing. The library stays loaded for
// the life of the process: it starts threads and registers accelerators.
const Api& LoadApi(const std::string& path);

// "kLiteRtStatusErrorRuntimeFailure (3)" for messages.
std::string StatusName(Status status);

}  // namespace litert
}  // namespace tfserve
