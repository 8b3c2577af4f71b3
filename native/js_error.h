// JS errors that carry TensorFlow's status name as `error.code`.
#pragma once

#include <napi.h>

#include <exception>
#include <string>

namespace tfserve {

Napi::Error MakeJsError(Napi::Env env, const char* code, const std::string& message);

inline Napi::Error InvalidArgument(Napi::Env env, const std::string& message) {
  return MakeJsError(env, "INVALID_ARGUMENT", message);
}

// Runs `settle`, which resolves or rejects `deferred`. If building the value
// fails, the promise is rejected with that error instead: a JS error, or a C++
// one (std::bad_alloc while copying a large output) as INTERNAL, since any
// exception leaving this noexcept function would abort the process. If even
// rejecting fails, the env can no longer run JS (a worker thread being
// terminated, or no memory left): nobody is left to answer.
template <typename Settle>
void SettleDeferred(const Napi::Promise::Deferred& deferred, Settle&& settle) noexcept {
  try {
    settle();
  } catch (const Napi::Error& error) {
    try {
      deferred.Reject(error.Value());
    } catch (...) {
    }
  } catch (const std::exception& error) {
    try {
      deferred.Reject(MakeJsError(deferred.Env(), "INTERNAL", std::string("building the result failed: ") + error.what()).Value());
    } catch (...) {
    }
  }
}

}  // namespace tfserve
