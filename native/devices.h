// The devices a session places ops on (TF_SessionListDevices), read once at load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensorflow/c/c_api.h"

namespace tfserve {

struct DeviceInfo {
  std::string name;      // e.g. "/job:localhost/replica:0/task:0/device:GPU:0"
  std::string type;      // "CPU", "GPU", ...
  int64_t memory_bytes;  // TF's memory limit for the device (a nominal figure on CPU)
};

// Throws TfError when TF cannot list them.
std::vector<DeviceInfo> ListDevices(TF_Session* session);

}  // namespace tfserve
