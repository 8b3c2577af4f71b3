#include "tflite_model.h"

#include <atomic>
#include <cstring>
#include <limits>

#include "shape_guard.h"
#include "tf_error.h"

namespace tfserve {

namespace {

std::atomic<size_t> live_models{0};

// TF Serving stores a model's SignatureDefs in this metadata entry
// (tensorflow/lite/tools/signature/signature_def_util.h).
constexpr char kSignatureDefsMetadata[] = "signature_defs_metadata";

void Check(litert::Status status, TF_Code code, const std::string& what) {
  if (status != litert::kOk) throw TfError(code, what + ": " + litert::StatusName(status));
}

std::vector<int64_t> LayoutDims(const litert::Layout& layout) {
  return std::vector<int64_t>(layout.dimensions, layout.dimensions + layout.rank);
}

TfliteTensorInfo DescribeTensor(const litert::Api& api, litert::Tensor tensor, const char* name) {
  TfliteTensorInfo info;
  info.name = name ? name : "";
  const char* tensor_name = nullptr;
  Check(api.GetTensorName(tensor, &tensor_name), TF_INTERNAL, "LiteRtGetTensorName");
  info.tensor_name = tensor_name ? tensor_name : "";
  int type_id = 0;
  Check(api.GetTensorTypeId(tensor, &type_id), TF_INTERNAL, "LiteRtGetTensorTypeId");
  if (type_id == litert::kRankedTensorType) {
    litert::RankedTensorType type{};
    Check(api.GetRankedTensorType(tensor, &type), TF_INTERNAL, "LiteRtGetRankedTensorType");
    info.element_type = type.element_type;
    info.shape = LayoutDims(type.layout);
  } else {
    // An unranked tensor's type struct holds only the element type, which
    // LiteRtGetRankedTensorType does not give: leave it unknown (kNone).
    info.element_type = litert::kNone;
  }
  return info;
}

// RAII for one tensor buffer and its lock.
class Buffer {
 public:
  Buffer(const litert::Api& api, litert::Environment env, int element_type, const std::vector<int64_t>& dims, size_t bytes,
         const std::string& what)
      : api_(api), buffer_(nullptr) {
    litert::RankedTensorType type{};
    type.element_type = element_type;
    type.layout.rank = static_cast<unsigned>(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) type.layout.dimensions[i] = static_cast<int32_t>(dims[i]);
    Check(api.CreateManagedTensorBuffer(env, litert::kTensorBufferHostMemory, &type, bytes, &buffer_), TF_INTERNAL,
          "cannot allocate a LiteRT buffer for " + what);
  }
  ~Buffer() {
    if (buffer_) api_.DestroyTensorBuffer(buffer_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept : api_(other.api_), buffer_(other.buffer_) { other.buffer_ = nullptr; }

  litert::TensorBuffer get() const { return buffer_; }

  // Copies `size` bytes in (write) or out (read) under the buffer's lock.
  void Write(const void* data, size_t size, const std::string& what) { Copy(litert::kLockWrite, const_cast<void*>(data), size, what); }
  void Read(void* data, size_t size, const std::string& what) { Copy(litert::kLockRead, data, size, what); }

 private:
  void Copy(int mode, void* data, size_t size, const std::string& what) {
    void* address = nullptr;
    Check(api_.LockTensorBuffer(buffer_, &address, mode), TF_INTERNAL, "cannot lock the LiteRT buffer of " + what);
    if (size > 0) {
      if (mode == litert::kLockWrite) std::memcpy(address, data, size);
      else std::memcpy(data, address, size);
    }
    api_.UnlockTensorBuffer(buffer_);
  }

  const litert::Api& api_;
  litert::TensorBuffer buffer_;
};

// elements x element size of `dims`, or throws INVALID_ARGUMENT naming `what`.
size_t CheckedBytes(const std::vector<int64_t>& dims, size_t element_size, const std::string& what) {
  if (dims.size() > litert::kMaxRank) {
    throw TfError(TF_INVALID_ARGUMENT, what + " has rank " + std::to_string(dims.size()) + ", more than the " +
                                           std::to_string(litert::kMaxRank) + " dimensions LiteRT tensors can have");
  }
  for (int64_t d : dims) {
    if (d > std::numeric_limits<int32_t>::max()) {
      throw TfError(TF_INVALID_ARGUMENT, what + " has dimension " + std::to_string(d) + ", past LiteRT's int32 dimensions");
    }
  }
  ShapeSize size;
  std::string problem = ShapeProblem(dims.data(), dims.size(), element_size, &size);
  if (!problem.empty()) throw TfError(TF_INVALID_ARGUMENT, what + ": " + problem);
  return size.bytes;
}

}  // namespace

size_t TfliteElementSize(int element_type) {
  switch (element_type) {
    case litert::kFloat32: return 4;
    case litert::kInt32: return 4;
    case litert::kUInt8: return 1;
    case litert::kInt64: return 8;
    case litert::kBool: return 1;
    case litert::kInt16: return 2;
    case litert::kComplex64: return 8;
    case litert::kInt8: return 1;
    default: return 0;
  }
}

TfliteModel::TfliteModel(const litert::Api& api)
    : api_(api),
      env_(nullptr, api.DestroyEnvironment),
      model_(nullptr, api.DestroyModel),
      options_(nullptr, api.DestroyOptions),
      compiled_(nullptr, api.DestroyCompiledModel) {
  ++live_models;
}

TfliteModel::~TfliteModel() { --live_models; }

size_t TfliteModel::LiveCount() { return live_models.load(); }

std::shared_ptr<TfliteModel> TfliteModel::Load(const std::string& library_path, const std::string& model_path) {
  const litert::Api& api = litert::LoadApi(library_path);
  std::shared_ptr<TfliteModel> self(new TfliteModel(api));  // private constructor: make_shared cannot reach it
  litert::Environment env = nullptr;
  Check(api.CreateEnvironment(0, nullptr, &env), TF_INTERNAL, "cannot create a LiteRT environment");
  self->env_.reset(env);
  litert::Model model = nullptr;
  Check(api.CreateModelFromFile(env, model_path.c_str(), &model), TF_INVALID_ARGUMENT,
        "cannot read " + model_path + " as a TFLite model");
  self->model_.reset(model);

  const void* metadata = nullptr;
  size_t metadata_size = 0;
  if (api.GetModelMetadata(model, kSignatureDefsMetadata, &metadata, &metadata_size) == litert::kOk && metadata) {
    self->signature_defs_metadata_.emplace(static_cast<const char*>(metadata), metadata_size);
  }

  size_t count = 0;
  Check(api.GetNumModelSignatures(model, &count), TF_INTERNAL, "LiteRtGetNumModelSignatures");
  for (size_t s = 0; s < count; ++s) {
    litert::Signature signature = nullptr;
    Check(api.GetModelSignature(model, s, &signature), TF_INTERNAL, "LiteRtGetModelSignature");
    TfliteSignatureInfo info;
    const char* key = nullptr;
    Check(api.GetSignatureKey(signature, &key), TF_INTERNAL, "LiteRtGetSignatureKey");
    info.key = key ? key : "";
    size_t inputs = 0, outputs = 0;
    Check(api.GetNumSignatureInputs(signature, &inputs), TF_INTERNAL, "LiteRtGetNumSignatureInputs");
    Check(api.GetNumSignatureOutputs(signature, &outputs), TF_INTERNAL, "LiteRtGetNumSignatureOutputs");
    for (size_t i = 0; i < inputs; ++i) {
      const char* name = nullptr;
      litert::Tensor tensor = nullptr;
      Check(api.GetSignatureInputName(signature, i, &name), TF_INTERNAL, "LiteRtGetSignatureInputName");
      Check(api.GetSignatureInputTensorByIndex(signature, i, &tensor), TF_INTERNAL, "LiteRtGetSignatureInputTensorByIndex");
      info.inputs.push_back(DescribeTensor(api, tensor, name));
    }
    for (size_t i = 0; i < outputs; ++i) {
      const char* name = nullptr;
      litert::Tensor tensor = nullptr;
      Check(api.GetSignatureOutputName(signature, i, &name), TF_INTERNAL, "LiteRtGetSignatureOutputName");
      Check(api.GetSignatureOutputTensorByIndex(signature, i, &tensor), TF_INTERNAL, "LiteRtGetSignatureOutputTensorByIndex");
      info.outputs.push_back(DescribeTensor(api, tensor, name));
    }
    self->signatures_.push_back(std::move(info));
  }

  litert::Options options = nullptr;
  Check(api.CreateOptions(&options), TF_INTERNAL, "cannot create LiteRT options");
  self->options_.reset(options);
  Check(api.SetOptionsHardwareAccelerators(options, litert::kHwAcceleratorCpu), TF_INTERNAL, "cannot select LiteRT's CPU accelerator");
  litert::CompiledModel compiled = nullptr;
  Check(api.CreateCompiledModel(env, model, options, &compiled), TF_INTERNAL, "LiteRT cannot compile " + model_path);
  self->compiled_.reset(compiled);

  // Allocating the outputs prepares every kernel: a model whose ops LiteRT
  // lacks (custom ops such as TF Serving's ParseExample) fails here, at load,
  // rather than at every request. LiteRT logs which op to stderr.
  for (size_t s = 0; s < self->signatures_.size(); ++s) {
    std::vector<litert::Layout> layouts(self->signatures_[s].outputs.size());
    Check(api.GetCompiledModelOutputTensorLayouts(compiled, s, layouts.size(), layouts.data(), true), TF_INTERNAL,
          "LiteRT cannot prepare signature '" + self->signatures_[s].key + "' of " + model_path +
              " (an op it does not implement, such as a custom op? LiteRT's log names it)");
  }
  return self;
}

std::vector<TfliteOutput> TfliteModel::Run(size_t signature, const std::vector<TfliteFeed>& feeds, const std::vector<size_t>& outputs) {
  if (signature >= signatures_.size()) throw TfError(TF_INVALID_ARGUMENT, "no signature at index " + std::to_string(signature));
  const TfliteSignatureInfo& info = signatures_[signature];
  if (feeds.size() != info.inputs.size()) {
    throw TfError(TF_INVALID_ARGUMENT, "signature '" + info.key + "' takes " + std::to_string(info.inputs.size()) +
                                           " inputs, got " + std::to_string(feeds.size()));
  }
  std::vector<const TfliteFeed*> by_index(info.inputs.size(), nullptr);
  for (const TfliteFeed& feed : feeds) {
    if (feed.index >= by_index.size() || by_index[feed.index] != nullptr) {
      throw TfError(TF_INVALID_ARGUMENT, "bad or repeated input index " + std::to_string(feed.index));
    }
    const TfliteTensorInfo& input = info.inputs[feed.index];
    const std::string what = "input '" + input.tensor_name + "'";
    if (feed.element_type != input.element_type) throw TfError(TF_INVALID_ARGUMENT, what + ": wrong element type");
    const size_t element_size = TfliteElementSize(feed.element_type);
    if (element_size == 0) throw TfError(TF_UNIMPLEMENTED, what + ": tfserve feeds numeric TFLite tensors only");
    if (CheckedBytes(feed.dims, element_size, what) != feed.bytes.size()) {
      throw TfError(TF_INVALID_ARGUMENT, what + ": " + std::to_string(feed.bytes.size()) + " bytes do not match shape " + FormatDims(feed.dims));
    }
    by_index[feed.index] = &feed;
  }
  for (size_t o : outputs) {
    if (o >= info.outputs.size()) throw TfError(TF_INVALID_ARGUMENT, "no output at index " + std::to_string(o));
    if (TfliteElementSize(info.outputs[o].element_type) == 0) {
      throw TfError(TF_UNIMPLEMENTED, "output '" + info.outputs[o].tensor_name + "': tfserve fetches numeric TFLite tensors only");
    }
  }

  std::lock_guard<std::mutex> lock(run_mutex_);
  litert::CompiledModel compiled = compiled_.get();
  std::vector<Buffer> input_buffers;
  input_buffers.reserve(feeds.size());
  std::vector<litert::TensorBuffer> inputs;
  for (size_t i = 0; i < by_index.size(); ++i) {
    const TfliteFeed& feed = *by_index[i];
    const std::string what = "input '" + info.inputs[i].tensor_name + "'";
    // Resize when the request's shape is not the tensor's current one, as
    // TF Serving does (non-strict: any shape, since TF Serving's interpreter
    // resize does not hold it to the model's shape signature either).
    litert::Layout current{};
    Check(api_.GetCompiledModelInputTensorLayout(compiled, signature, i, &current), TF_INTERNAL, "layout of " + what);
    if (LayoutDims(current) != feed.dims) {
      std::vector<int> dims(feed.dims.begin(), feed.dims.end());
      Check(api_.CompiledModelResizeInputTensorNonStrict(compiled, signature, i, dims.data(), dims.size()), TF_INVALID_ARGUMENT,
            "cannot resize " + what + " to " + FormatDims(feed.dims));
    }
    input_buffers.emplace_back(api_, env_.get(), feed.element_type, feed.dims, feed.bytes.size(), what);
    input_buffers.back().Write(feed.bytes.data(), feed.bytes.size(), what);
    inputs.push_back(input_buffers.back().get());
  }

  std::vector<litert::Layout> layouts(info.outputs.size());
  Check(api_.GetCompiledModelOutputTensorLayouts(compiled, signature, layouts.size(), layouts.data(), true), TF_INVALID_ARGUMENT,
        "LiteRT cannot allocate the outputs of signature '" + info.key + "' for these input shapes");
  std::vector<Buffer> output_buffers;
  output_buffers.reserve(layouts.size());
  std::vector<litert::TensorBuffer> output_handles;
  std::vector<size_t> output_bytes;
  for (size_t o = 0; o < layouts.size(); ++o) {
    const std::string what = "output '" + info.outputs[o].tensor_name + "'";
    const std::vector<int64_t> dims = LayoutDims(layouts[o]);
    const size_t element_size = TfliteElementSize(info.outputs[o].element_type);
    // Outputs tfserve cannot read still need a buffer for the run; a byte
    // count for them comes from the element count alone.
    const size_t bytes = CheckedBytes(dims, element_size == 0 ? 1 : element_size, what);
    output_buffers.emplace_back(api_, env_.get(), info.outputs[o].element_type, dims, bytes, what);
    output_handles.push_back(output_buffers.back().get());
    output_bytes.push_back(bytes);
  }

  Check(api_.RunCompiledModel(compiled, signature, inputs.size(), inputs.data(), output_handles.size(), output_handles.data()),
        TF_INTERNAL, "Failed to invoke the TFLite model (LiteRtRunCompiledModel)");

  std::vector<TfliteOutput> results;
  results.reserve(outputs.size());
  for (size_t o : outputs) {
    TfliteOutput out;
    out.element_type = info.outputs[o].element_type;
    out.dims = LayoutDims(layouts[o]);
    out.bytes.resize(output_bytes[o]);
    output_buffers[o].Read(out.bytes.data(), out.bytes.size(), "output '" + info.outputs[o].tensor_name + "'");
    results.push_back(std::move(out));
  }
  return results;
}

}  // namespace tfserve
