// A TF_Tensor with one owner, whatever made it. Tensors this addon allocates
// hold TF_TString elements whose heap storage TF_DeleteTensor does not free,
// so for those the owner frees them; tensors TF returns free themselves.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tf_handles.h"

namespace tfserve {

class OwnedTensor {
 public:
  OwnedTensor() = default;
  OwnedTensor(OwnedTensor&&) = default;
  OwnedTensor& operator=(OwnedTensor&& other) noexcept;
  ~OwnedTensor();

  // A new tensor: strings initialised empty, numeric data zeroed unless the
  // caller is about to overwrite all of it. `dims` pass the shape guard
  // first (shape_guard.h): throws TfError INVALID_ARGUMENT naming `what`
  // when they fail it, RESOURCE_EXHAUSTED when the memory cannot be had.
  static OwnedTensor Allocate(TF_DataType dtype, const std::vector<int64_t>& dims, const std::string& what,
                              bool zeroed = true);
  // A tensor TF produced (a session output).
  static OwnedTensor Adopt(TF_Tensor* tensor);

  TF_Tensor* get() const { return tensor_.get(); }

 private:
  void FreeStrings();

  TensorPtr tensor_;
  bool frees_strings_ = false;
};

// Shape and element size helpers.
std::vector<int64_t> Dims(const TF_Tensor* tensor);
// Bytes per element; sizeof(TF_TString) for strings.
size_t ElementSize(TF_DataType dtype);

}  // namespace tfserve
