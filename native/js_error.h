// JS errors that carry TensorFlow's status name as `error.code`.
#pragma once

#include <napi.h>

#include <string>

namespace tfserve {

Napi::Error MakeJsError(Napi::Env env, const char* code, const std::string& message);

inline Napi::Error InvalidArgument(Napi::Env env, const std::string& message) {
  return MakeJsError(env, "INVALID_ARGUMENT", message);
}

}  // namespace tfserve
