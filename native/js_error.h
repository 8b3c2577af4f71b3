// JS errors that carry TensorFlow's status name as `error.code`.
#pragma once

#include <napi.h>

#include <string>

namespace tfserve {

Napi::Error MakeJsError(Napi::Env env, const char* code, const std::string& message);

inline Napi::Error InvalidArgument(Napi::Env env, const std::string& message) {
  return MakeJsError(env, "INVALID_ARGUMENT", message);
}

// Runs `settle`, which resolves or rejects `deferred`. If building the value
// fails, the promise is rejected with that error instead. If even that fails,
// the env can no longer run JS (a worker thread being terminated): nobody is
// left to answer, and an exception escaping into Node would abort the process.
template <typename Settle>
void SettleDeferred(const Napi::Promise::Deferred& deferred, Settle&& settle) noexcept {
  try {
    settle();
  } catch (const Napi::Error& error) {
    try {
      deferred.Reject(error.Value());
    } catch (const Napi::Error&) {
    }
  }
}

}  // namespace tfserve
