#include "owned_tensor.h"

#include <cstring>
#include <utility>

#include "shape_guard.h"
#include "tf_error.h"

namespace tfserve {

OwnedTensor& OwnedTensor::operator=(OwnedTensor&& other) noexcept {
  if (this != &other) {
    FreeStrings();
    tensor_ = std::move(other.tensor_);
    frees_strings_ = other.frees_strings_;
  }
  return *this;
}

OwnedTensor::~OwnedTensor() { FreeStrings(); }

void OwnedTensor::FreeStrings() {
  if (!tensor_ || !frees_strings_) return;
  auto* strings = static_cast<TF_TString*>(TF_TensorData(tensor_.get()));
  int64_t count = TF_TensorElementCount(tensor_.get());
  for (int64_t i = 0; i < count; ++i) TF_StringDealloc(&strings[i]);
}

size_t ElementSize(TF_DataType dtype) {
  return dtype == TF_STRING ? sizeof(TF_TString) : TF_DataTypeSize(dtype);
}

std::vector<int64_t> Dims(const TF_Tensor* tensor) {
  std::vector<int64_t> dims(TF_NumDims(tensor));
  for (size_t i = 0; i < dims.size(); ++i) dims[i] = TF_Dim(tensor, static_cast<int>(i));
  return dims;
}

OwnedTensor OwnedTensor::Allocate(TF_DataType dtype, const std::vector<int64_t>& dims, const std::string& what,
                                  bool zeroed) {
  // TF_AllocateTensor builds a TensorShape from `dims`, which aborts the
  // process on a shape it refuses: the guard refuses those first.
  const ShapeSize size = CheckShape(dims, dtype, what);
  const size_t bytes = size.bytes;
  OwnedTensor owned;
  owned.tensor_.reset(TF_AllocateTensor(dtype, dims.data(), static_cast<int>(dims.size()), bytes));
  void* data = owned.tensor_ ? TF_TensorData(owned.tensor_.get()) : nullptr;
  // TF's CPU allocator returns null when malloc fails, and TF_AllocateTensor
  // still makes a tensor around it. A null tensor (TF refusing `bytes`) would
  // crash the first caller that reads it, even when it holds no element.
  if (!owned.tensor_ || (data == nullptr && bytes > 0)) {
    throw TfError(TF_RESOURCE_EXHAUSTED, what + ": cannot allocate " + std::to_string(bytes) + " bytes for a tensor of shape " +
                                             FormatDims(dims));
  }
  owned.frees_strings_ = dtype == TF_STRING;
  if (dtype == TF_STRING) {
    auto* strings = static_cast<TF_TString*>(data);
    for (int64_t i = 0; i < size.elements; ++i) TF_StringInit(&strings[i]);
  } else if (zeroed && bytes > 0) {
    std::memset(data, 0, bytes);
  }
  return owned;
}

OwnedTensor OwnedTensor::Adopt(TF_Tensor* tensor) {
  OwnedTensor owned;
  owned.tensor_.reset(tensor);
  owned.frees_strings_ = false;
  return owned;
}

}  // namespace tfserve
