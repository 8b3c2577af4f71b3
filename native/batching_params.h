// TF Serving's BatchingParameters, as the addon uses them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tfserve {

struct BatchingParams {
  int64_t max_batch_size = 1000;
  int64_t batch_timeout_micros = 0;
  int64_t num_batch_threads = 1;
  int64_t max_enqueued_batches = 10;
  std::vector<int64_t> allowed_batch_sizes;
  bool enable_large_batch_splitting = false;
  bool pad_variable_length_inputs = false;

  // Identifies a batching configuration: equal params share queues.
  std::string Key() const {
    std::string key = std::to_string(max_batch_size) + "/" + std::to_string(batch_timeout_micros) + "/" +
                      std::to_string(num_batch_threads) + "/" + std::to_string(max_enqueued_batches) + "/" +
                      (enable_large_batch_splitting ? "s" : "-") + (pad_variable_length_inputs ? "p" : "-");
    for (int64_t size : allowed_batch_sizes) key += "," + std::to_string(size);
    return key;
  }
};

}  // namespace tfserve
