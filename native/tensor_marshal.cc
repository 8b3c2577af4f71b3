#include "tensor_marshal.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "js_error.h"
#include "shape_guard.h"
#include "tf_error.h"

namespace tfserve {

namespace {

bool IsSupported(TF_DataType dtype) {
  switch (dtype) {
    case TF_FLOAT: case TF_DOUBLE: case TF_HALF: case TF_BFLOAT16:
    case TF_INT8: case TF_INT16: case TF_INT32: case TF_INT64:
    case TF_UINT8: case TF_UINT16: case TF_UINT32: case TF_UINT64:
    case TF_BOOL: case TF_STRING: case TF_COMPLEX64: case TF_COMPLEX128:
      return true;
    default:
      return false;
  }
}

// A dimension JS may give: an integer a double holds exactly. Larger values
// are not integers JS can mean, and casting them to int64 is undefined.
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

std::vector<int64_t> ReadShape(Napi::Env env, Napi::Value value, const std::string& what) {
  if (!value.IsArray()) throw InvalidArgument(env, what + ": shape must be an array");
  Napi::Array array = value.As<Napi::Array>();
  const uint32_t rank = array.Length();
  // Refused before reading: a shape array may be as long as the caller likes.
  const std::string rank_problem = RankProblem(rank);
  if (!rank_problem.empty()) throw InvalidArgument(env, what + ": " + rank_problem);
  std::vector<int64_t> dims(rank);
  for (uint32_t i = 0; i < rank; ++i) {
    Napi::Value dim = array.Get(i);
    double d = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= kMaxSafeInteger) || d != std::floor(d)) {
      throw InvalidArgument(env, what + ": shape[" + std::to_string(i) + "] must be a non-negative integer below 2^53");
    }
    dims[i] = static_cast<int64_t>(d);
  }
  return dims;
}

// The bytes a typed array or DataView shows, whether its buffer is an
// ArrayBuffer or a SharedArrayBuffer (node-addon-api's ArrayBuffer() refuses
// the latter, so the C API's data pointer is used).
struct ViewBytes {
  const uint8_t* data = nullptr;
  size_t length = 0;
};

bool ReadView(Napi::Env env, Napi::Value value, ViewBytes* view, napi_typedarray_type* type = nullptr) {
  void* data = nullptr;
  size_t length = 0;
  if (value.IsTypedArray()) {
    napi_typedarray_type array_type;
    size_t elements = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, value, &array_type, &elements, &data, nullptr, nullptr),
                         false);
    length = value.As<Napi::TypedArray>().ByteLength();
    if (type != nullptr) *type = array_type;
  } else if (value.IsDataView()) {
    NAPI_THROW_IF_FAILED(env, napi_get_dataview_info(env, value, &length, &data, nullptr, nullptr), false);
    if (type != nullptr) *type = napi_uint8_array;  // bytes, as far as the caller is concerned
  } else {
    return false;
  }
  view->data = static_cast<const uint8_t*>(data);
  view->length = length;
  return true;
}

bool IsUint8Array(Napi::Env env, Napi::Value value, ViewBytes* view) {
  napi_typedarray_type type;
  return value.IsTypedArray() && ReadView(env, value, view, &type) && type == napi_uint8_array;
}

// One JS value per element: an array of Uint8Array/Buffer/string.
void WriteStringArray(Napi::Env env, Napi::Array items, const std::string& what, TF_TString* strings, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    Napi::Value item = items.Get(static_cast<uint32_t>(i));
    ViewBytes bytes;
    if (IsUint8Array(env, item, &bytes)) {
      TF_StringCopy(&strings[i], reinterpret_cast<const char*>(bytes.data), bytes.length);
    } else if (item.IsString()) {
      std::string text = item.As<Napi::String>().Utf8Value();
      TF_StringCopy(&strings[i], text.data(), text.size());
    } else {
      throw InvalidArgument(env, what + ": string element " + std::to_string(i) + " must be a Uint8Array or a string");
    }
  }
}

// Packed strings. Each offset is read once, and checked as it is used, so a
// SharedArrayBuffer another thread writes to cannot make a read go out of
// bounds between a check and a copy.
void WritePackedStrings(Napi::Env env, const ViewBytes& bytes, const ViewBytes& offsets, const std::string& what,
                        TF_TString* strings, int64_t count) {
  auto offset_at = [&](int64_t i) {
    uint32_t value;
    std::memcpy(&value, offsets.data + i * sizeof(uint32_t), sizeof(value));
    return value;
  };
  uint32_t begin = offset_at(0);
  if (begin != 0) throw InvalidArgument(env, what + ": packed string offsets[0] is " + std::to_string(begin) + ", not 0");
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t end = offset_at(i + 1);
    if (end < begin || end > bytes.length) {
      throw InvalidArgument(env, what + ": packed string offsets[" + std::to_string(i + 1) + "] is " + std::to_string(end) +
                                     (end < begin ? ", below offsets[" + std::to_string(i) + "] (" + std::to_string(begin) + ")"
                                                  : ", past the end of bytes (" + std::to_string(bytes.length) + ")"));
    }
    TF_StringCopy(&strings[i], reinterpret_cast<const char*>(bytes.data) + begin, end - begin);
    begin = end;
  }
}

// The string tensor for `data`: its element count is checked against the
// shape's before the tensor is allocated.
OwnedTensor StringTensorFromJs(Napi::Env env, Napi::Value data, const std::vector<int64_t>& dims, int64_t count,
                               const std::string& what) {
  auto count_mismatch = [&](const std::string& have) {
    return InvalidArgument(env, what + ": has " + have + " but its shape " + FormatDims(dims) + " holds " +
                                    std::to_string(count));
  };
  if (data.IsArray()) {
    Napi::Array items = data.As<Napi::Array>();
    if (static_cast<int64_t>(items.Length()) != count) throw count_mismatch(std::to_string(items.Length()) + " strings");
    OwnedTensor tensor = OwnedTensor::Allocate(TF_STRING, dims, what);
    WriteStringArray(env, items, what, static_cast<TF_TString*>(TF_TensorData(tensor.get())), count);
    return tensor;
  }
  if (data.IsObject() && !data.IsTypedArray() && !data.IsDataView()) {
    Napi::Object packed = data.As<Napi::Object>();
    ViewBytes bytes;
    ViewBytes offsets;
    napi_typedarray_type offsets_type;
    Napi::Value offsets_value = packed.Get("offsets");
    Napi::Value bytes_value = packed.Get("bytes");
    if (!IsUint8Array(env, bytes_value, &bytes) || !offsets_value.IsTypedArray() ||
        !ReadView(env, offsets_value, &offsets, &offsets_type) || offsets_type != napi_uint32_array) {
      throw InvalidArgument(env, what + ": packed strings must be { bytes: Uint8Array, offsets: Uint32Array }");
    }
    const size_t entries = offsets.length / sizeof(uint32_t);
    if (entries == 0 || static_cast<int64_t>(entries - 1) != count) {
      throw count_mismatch(std::to_string(entries) + " packed string offsets (strings + 1)");
    }
    OwnedTensor tensor = OwnedTensor::Allocate(TF_STRING, dims, what);
    WritePackedStrings(env, bytes, offsets, what, static_cast<TF_TString*>(TF_TensorData(tensor.get())), count);
    return tensor;
  }
  throw InvalidArgument(env, what + ": string data must be an array of Uint8Array or string, or packed strings "
                                    "{ bytes: Uint8Array, offsets: Uint32Array }");
}

OwnedTensor TensorFromJsUnchecked(Napi::Env env, Napi::Value value, const std::string& what) {
  if (!value.IsObject()) throw InvalidArgument(env, what + ": tensor must be an object");
  Napi::Object object = value.As<Napi::Object>();
  Napi::Value dtype_value = object.Get("dtype");
  if (!dtype_value.IsNumber()) throw InvalidArgument(env, what + ": dtype must be a number");
  auto dtype = static_cast<TF_DataType>(dtype_value.As<Napi::Number>().Int32Value());
  if (!IsSupported(dtype)) {
    throw InvalidArgument(env, what + ": unsupported dtype " + std::to_string(dtype));
  }
  const std::vector<int64_t> dims = ReadShape(env, object.Get("shape"), what);
  // The guard, before anything else looks at the shape's size.
  const ShapeSize size = CheckShape(dims, dtype, what);
  Napi::Value data = object.Get("data");

  if (dtype == TF_STRING) return StringTensorFromJs(env, data, dims, size.elements, what);

  ViewBytes view;
  if (!ReadView(env, data, &view)) throw InvalidArgument(env, what + ": data must be a typed array");
  if (view.length != size.bytes) {
    throw InvalidArgument(env, what + ": data has " + std::to_string(view.length) +
                                   " bytes but its dtype and shape need " + std::to_string(size.bytes));
  }
  OwnedTensor tensor = OwnedTensor::Allocate(dtype, dims, what, /*zeroed=*/false);
  if (size.bytes > 0) std::memcpy(TF_TensorData(tensor.get()), view.data, size.bytes);
  return tensor;
}

}  // namespace

OwnedTensor TensorFromJs(Napi::Env env, Napi::Value value, const std::string& what) {
  try {
    return TensorFromJsUnchecked(env, value, what);
  } catch (const TfError& error) {
    // The guard's and the allocator's errors, as JS errors for the caller.
    throw MakeJsError(env, error.code_name(), error.what());
  }
}

Napi::Object TensorToJs(Napi::Env env, const TF_Tensor* tensor) {
  Napi::Object result = Napi::Object::New(env);
  TF_DataType dtype = TF_TensorType(tensor);
  result.Set("dtype", Napi::Number::New(env, dtype));

  int rank = TF_NumDims(tensor);
  Napi::Array shape = Napi::Array::New(env, rank);
  for (int i = 0; i < rank; ++i) {
    shape.Set(i, Napi::Number::New(env, static_cast<double>(TF_Dim(tensor, i))));
  }
  result.Set("shape", shape);

  const int64_t count = TF_TensorElementCount(tensor);
  if (dtype == TF_STRING) {
    // Packed, as inputs may be: one buffer of bytes and count + 1 offsets,
    // two allocations whatever the count (a JS Buffer per element cost
    // ~1.7 us each, seconds for a few million strings).
    const auto* strings = static_cast<const TF_TString*>(TF_TensorData(tensor));
    uint64_t total = 0;
    for (int64_t i = 0; i < count; ++i) total += TF_StringGetSize(&strings[i]);
    if (total > std::numeric_limits<uint32_t>::max()) {
      // A JS error with its own code: this runs while a promise settles, which rejects with it.
      throw MakeJsError(env, "RESOURCE_EXHAUSTED",
                        "a string output holds " + std::to_string(total) +
                            " bytes; tfserve returns at most 4 GiB of strings per tensor");
    }
    Napi::ArrayBuffer bytes = Napi::ArrayBuffer::New(env, static_cast<size_t>(total));
    Napi::Uint32Array offsets = Napi::Uint32Array::New(env, static_cast<size_t>(count) + 1);
    auto* out = static_cast<char*>(bytes.Data());
    uint32_t at = 0;
    offsets[0] = 0;
    for (int64_t i = 0; i < count; ++i) {
      const size_t size = TF_StringGetSize(&strings[i]);
      if (size > 0) std::memcpy(out + at, TF_StringGetDataPointer(&strings[i]), size);
      at += static_cast<uint32_t>(size);
      offsets[static_cast<size_t>(i) + 1] = at;
    }
    result.Set("data", bytes);
    result.Set("offsets", offsets);
    return result;
  }

  const size_t bytes = TF_TensorByteSize(tensor);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), TF_TensorData(tensor), bytes);
  result.Set("data", buffer);
  return result;
}

}  // namespace tfserve
