#include "devices.h"

#include "tf_error.h"
#include "tf_handles.h"

namespace tfserve {

std::vector<DeviceInfo> ListDevices(TF_Session* session) {
  StatusPtr status = NewStatus();
  DeviceListPtr list(TF_SessionListDevices(session, status.get()));
  ThrowIfError(status.get(), "cannot list the session's devices");
  std::vector<DeviceInfo> devices;
  const int count = TF_DeviceListCount(list.get());
  devices.reserve(count > 0 ? static_cast<size_t>(count) : 0);
  for (int i = 0; i < count; ++i) {
    DeviceInfo device;
    device.name = TF_DeviceListName(list.get(), i, status.get());
    ThrowIfError(status.get(), "cannot read a device name");
    device.type = TF_DeviceListType(list.get(), i, status.get());
    ThrowIfError(status.get(), "cannot read a device type");
    device.memory_bytes = TF_DeviceListMemoryBytes(list.get(), i, status.get());
    ThrowIfError(status.get(), "cannot read a device's memory");
    devices.push_back(std::move(device));
  }
  return devices;
}

}  // namespace tfserve
