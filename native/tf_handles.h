// RAII owners for every TensorFlow C API handle the addon touches.
#pragma once

#include <memory>

#include "tensorflow/c/c_api.h"

namespace tfserve {

struct StatusDeleter {
  void operator()(TF_Status* s) const { TF_DeleteStatus(s); }
};
struct GraphDeleter {
  void operator()(TF_Graph* g) const { TF_DeleteGraph(g); }
};
struct SessionOptionsDeleter {
  void operator()(TF_SessionOptions* o) const { TF_DeleteSessionOptions(o); }
};
struct BufferDeleter {
  void operator()(TF_Buffer* b) const { TF_DeleteBuffer(b); }
};
struct DeviceListDeleter {
  void operator()(TF_DeviceList* l) const { TF_DeleteDeviceList(l); }
};
struct TensorDeleter {
  void operator()(TF_Tensor* t) const { TF_DeleteTensor(t); }
};
// A session must be closed before it is deleted; errors on close are ignored
// because there is nobody left to report them to.
struct SessionDeleter {
  void operator()(TF_Session* s) const {
    TF_Status* status = TF_NewStatus();
    TF_CloseSession(s, status);
    TF_DeleteSession(s, status);
    TF_DeleteStatus(status);
  }
};

using StatusPtr = std::unique_ptr<TF_Status, StatusDeleter>;
using GraphPtr = std::unique_ptr<TF_Graph, GraphDeleter>;
using SessionOptionsPtr = std::unique_ptr<TF_SessionOptions, SessionOptionsDeleter>;
using BufferPtr = std::unique_ptr<TF_Buffer, BufferDeleter>;
using TensorPtr = std::unique_ptr<TF_Tensor, TensorDeleter>;
using DeviceListPtr = std::unique_ptr<TF_DeviceList, DeviceListDeleter>;
using SessionPtr = std::unique_ptr<TF_Session, SessionDeleter>;

inline StatusPtr NewStatus() { return StatusPtr(TF_NewStatus()); }

}  // namespace tfserve
