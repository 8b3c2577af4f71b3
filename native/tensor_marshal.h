// Conversion between JS tensors and TF_Tensors, on the JS thread.
//
// JS side (src/engine/native.ts NativeTensor): { dtype: <TF_DataType number>,
// shape: number[], data } where data is
//   - for numeric dtypes, any ArrayBufferView (typed array or DataView, on an
//     ArrayBuffer or a SharedArrayBuffer) holding the elements in TF's memory
//     layout: bool as bytes, complex as interleaved re/im, float16/bfloat16 as
//     raw 16-bit words. Its bytes are copied; a SharedArrayBuffer's contents
//     are read once, as they are at the call;
//   - for TF_STRING, either an array of Uint8Array/Buffer/string (one JS value
//     per element), or packed strings { bytes: Uint8Array, offsets:
//     Uint32Array }: element i is bytes[offsets[i], offsets[i+1]), so offsets
//     has count + 1 entries, offsets[0] = 0, never decreases, and its last
//     entry is at most bytes.length. Packed strings are written into the
//     TF_TStrings straight from the two buffers, with no JS value per element.
// Every shape passes the shape guard (shape_guard.h) before any TF tensor is
// made. Outputs come back with data in a fresh JS-owned ArrayBuffer, so
// they can be transferred between threads; for TF_STRING that buffer holds
// the strings' bytes back to back and `offsets` (a Uint32Array of count + 1)
// delimits them, as packed inputs do.
#pragma once

#include <napi.h>

#include <string>

#include "owned_tensor.h"

namespace tfserve {

// Copies a JS tensor into a new TF_Tensor; throws a JS INVALID_ARGUMENT error
// naming `what` when the value is malformed (RESOURCE_EXHAUSTED when its
// memory cannot be allocated).
OwnedTensor TensorFromJs(Napi::Env env, Napi::Value value, const std::string& what);

// Copies a TF_Tensor into a new JS tensor object.
Napi::Object TensorToJs(Napi::Env env, const TF_Tensor* tensor);

}  // namespace tfserve
