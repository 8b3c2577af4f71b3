// TensorFlow status codes carried as C++ exceptions until they reach JS, where
// they become Error objects whose `code` is TF's status name.
#pragma once

#include <stdexcept>
#include <string>

#include "tensorflow/c/c_api.h"

namespace tfserve {

class TfError : public std::runtime_error {
 public:
  TfError(TF_Code code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  TF_Code code() const { return code_; }
  const char* code_name() const;

 private:
  TF_Code code_;
};

// "INVALID_ARGUMENT", "NOT_FOUND", ... as in tensorflow/core/protobuf/error_codes.proto.
const char* CodeName(TF_Code code);

// Throws TfError when `status` is not OK; `context` prefixes the message.
void ThrowIfError(const TF_Status* status, const char* context = nullptr);

}  // namespace tfserve
