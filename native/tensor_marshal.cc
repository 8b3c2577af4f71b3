#include "tensor_marshal.h"

#include <cstring>
#include <string>
#include <vector>

#include "js_error.h"

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

std::vector<int64_t> ReadShape(Napi::Env env, Napi::Value value, const std::string& what,
                               size_t* element_count) {
  if (!value.IsArray()) throw InvalidArgument(env, what + ": shape must be an array");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> dims(array.Length());
  size_t count = 1;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value dim = array.Get(i);
    double d = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0) || d != static_cast<double>(static_cast<int64_t>(d))) {
      throw InvalidArgument(env, what + ": shape[" + std::to_string(i) +
                                           "] must be a non-negative integer");
    }
    dims[i] = static_cast<int64_t>(d);
    count *= static_cast<size_t>(dims[i]);
  }
  *element_count = count;
  return dims;
}

void WriteStrings(Napi::Env env, Napi::Value data, const std::string& what, TF_Tensor* tensor,
                  size_t count) {
  if (!data.IsArray()) {
    throw InvalidArgument(env, what + ": string data must be an array of Uint8Array or string");
  }
  Napi::Array items = data.As<Napi::Array>();
  if (items.Length() != count) {
    throw InvalidArgument(env, what + ": has " + std::to_string(items.Length()) +
                                         " strings but its shape holds " + std::to_string(count));
  }
  auto* strings = static_cast<TF_TString*>(TF_TensorData(tensor));
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value item = items.Get(i);
    if (item.IsTypedArray() && item.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array bytes = item.As<Napi::Uint8Array>();
      TF_StringCopy(&strings[i], reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
    } else if (item.IsString()) {
      std::string text = item.As<Napi::String>().Utf8Value();
      TF_StringCopy(&strings[i], text.data(), text.size());
    } else {
      throw InvalidArgument(env, what + ": string element " + std::to_string(i) +
                                           " must be a Uint8Array or a string");
    }
  }
}

}  // namespace

OwnedTensor TensorFromJs(Napi::Env env, Napi::Value value, const std::string& what) {
  if (!value.IsObject()) throw InvalidArgument(env, what + ": tensor must be an object");
  Napi::Object object = value.As<Napi::Object>();
  Napi::Value dtype_value = object.Get("dtype");
  if (!dtype_value.IsNumber()) throw InvalidArgument(env, what + ": dtype must be a number");
  auto dtype = static_cast<TF_DataType>(dtype_value.As<Napi::Number>().Int32Value());
  if (!IsSupported(dtype)) {
    throw InvalidArgument(env, what + ": unsupported dtype " + std::to_string(dtype));
  }
  size_t count = 0;
  std::vector<int64_t> dims = ReadShape(env, object.Get("shape"), what, &count);
  Napi::Value data = object.Get("data");

  if (dtype == TF_STRING) {
    OwnedTensor tensor = OwnedTensor::Allocate(TF_STRING, dims);
    WriteStrings(env, data, what, tensor.get(), count);
    return tensor;
  }

  if (!data.IsTypedArray() && !data.IsDataView()) {
    throw InvalidArgument(env, what + ": data must be a typed array");
  }
  const size_t bytes = count * TF_DataTypeSize(dtype);
  Napi::ArrayBuffer buffer;
  size_t offset = 0;
  size_t length = 0;
  if (data.IsTypedArray()) {
    Napi::TypedArray view = data.As<Napi::TypedArray>();
    buffer = view.ArrayBuffer();
    offset = view.ByteOffset();
    length = view.ByteLength();
  } else {
    Napi::DataView view = data.As<Napi::DataView>();
    buffer = view.ArrayBuffer();
    offset = view.ByteOffset();
    length = view.ByteLength();
  }
  if (length != bytes) {
    throw InvalidArgument(env, what + ": data has " + std::to_string(length) +
                                         " bytes but its dtype and shape need " +
                                         std::to_string(bytes));
  }
  OwnedTensor tensor = OwnedTensor::Allocate(dtype, dims, /*zeroed=*/false);
  if (bytes > 0) {
    std::memcpy(TF_TensorData(tensor.get()), static_cast<const char*>(buffer.Data()) + offset,
                bytes);
  }
  return tensor;
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
    const auto* strings = static_cast<const TF_TString*>(TF_TensorData(tensor));
    Napi::Array items = Napi::Array::New(env, count);
    for (int64_t i = 0; i < count; ++i) {
      items.Set(static_cast<uint32_t>(i),
                Napi::Buffer<char>::Copy(env, TF_StringGetDataPointer(&strings[i]),
                                         TF_StringGetSize(&strings[i])));
    }
    result.Set("data", items);
    return result;
  }

  const size_t bytes = TF_TensorByteSize(tensor);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), TF_TensorData(tensor), bytes);
  result.Set("data", buffer);
  return result;
}

}  // namespace tfserve
