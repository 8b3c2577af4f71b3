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

#include <string>

#include "owned_tensor.h"

namespace tfserve {

// Copies a JS tensor into a new TF_Tensor; throws a JS INVALID_ARGUMENT error
// naming `what` when the value is malformed.
OwnedTensor TensorFromJs(Napi::Env env, Napi::Value value, const std::string& what);

// Copies a TF_Tensor into a new JS tensor object.
Napi::Object TensorToJs(Napi::Env env, const TF_Tensor* tensor);

}  // namespace tfserve
