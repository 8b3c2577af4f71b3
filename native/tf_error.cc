#include "tf_error.h"

namespace tfserve {

const char* CodeName(TF_Code code) {
  switch (code) {
    case TF_OK: return "OK";
    case TF_CANCELLED: return "CANCELLED";
    case TF_UNKNOWN: return "UNKNOWN";
    case TF_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case TF_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case TF_NOT_FOUND: return "NOT_FOUND";
    case TF_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case TF_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case TF_UNAUTHENTICATED: return "UNAUTHENTICATED";
    case TF_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case TF_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case TF_ABORTED: return "ABORTED";
    case TF_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case TF_UNIMPLEMENTED: return "UNIMPLEMENTED";
    case TF_INTERNAL: return "INTERNAL";
    case TF_UNAVAILABLE: return "UNAVAILABLE";
    case TF_DATA_LOSS: return "DATA_LOSS";
  }
  return "UNKNOWN";
}

const char* TfError::code_name() const { return CodeName(code_); }

void ThrowIfError(const TF_Status* status, const char* context) {
  TF_Code code = TF_GetCode(status);
  if (code == TF_OK) return;
  std::string message = TF_Message(status);
  if (context != nullptr) message = std::string(context) + ": " + message;
  throw TfError(code, message);
}

}  // namespace tfserve
