// Conversion between JS tensors and TF_Tensors, on the JS thread.
//
// JS side: { dtype: <TF_DataType number>, shape: number[], data } where data
// is any ArrayBufferView holding the elements in TF's memory layout (bool as
// bytes, complex as interleaved re/im, float16/bfloat16 as raw 16-bit words)
// or, for TF_STRING, an array of Uint8Array/Buffer/string. Outputs come back
// in the same form with data in a fresh JS-owned ArrayBuffer (or an array of
// Buffers for strings), so they can be transferred between threads.
#pragma once

#include <napi.h>

#include "tf_handles.h"

namespace tfserve {

// A TF_Tensor this addon allocated. TF does not free the heap storage of the
// TF_TString elements we wrote, so this owner does.
class InputTensor {
 public:
  explicit InputTensor(TensorPtr tensor) : tensor_(std::move(tensor)) {}
  InputTensor(InputTensor&&) = default;
  InputTensor& operator=(InputTensor&&) = default;
  ~InputTensor();

  TF_Tensor* get() const { return tensor_.get(); }

 private:
  TensorPtr tensor_;
};

// Copies a JS tensor into a new TF_Tensor; throws a JS INVALID_ARGUMENT error
// naming `what` when the value is malformed.
InputTensor TensorFromJs(Napi::Env env, Napi::Value value, const std::string& what);

// Copies a TF_Tensor into a new JS tensor object.
Napi::Object TensorToJs(Napi::Env env, const TF_Tensor* tensor);

}  // namespace tfserve
