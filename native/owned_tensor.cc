#include "owned_tensor.h"

#include <cstring>
#include <utility>

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

OwnedTensor OwnedTensor::Allocate(TF_DataType dtype, const std::vector<int64_t>& dims, bool zeroed) {
  size_t count = 1;
  for (int64_t d : dims) count *= static_cast<size_t>(d);
  const size_t bytes = count * ElementSize(dtype);
  OwnedTensor owned;
  owned.tensor_.reset(TF_AllocateTensor(dtype, dims.data(), static_cast<int>(dims.size()), bytes));
  owned.frees_strings_ = dtype == TF_STRING;
  void* data = TF_TensorData(owned.tensor_.get());
  if (dtype == TF_STRING) {
    auto* strings = static_cast<TF_TString*>(data);
    for (size_t i = 0; i < count; ++i) TF_StringInit(&strings[i]);
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
