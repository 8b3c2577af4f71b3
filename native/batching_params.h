// TF Serving's BatchingParameters, as the addon uses them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tfserve {

struct BatchingParams {
  int64_t max_batch_size = 1000;
  int64_t batch_timeout_micros = 0;
  // tfserve's own: how long a batch that is not full may wait while another
  // batch of the same queue is running (-1: batch_timeout_micros). With
  // batch_timeout_micros 0, an idle model still runs a request at once, while
  // under load a free batch thread waits for a fuller batch instead of
  // starting whatever rows have arrived.
  int64_t busy_batch_timeout_micros = -1;
  int64_t num_batch_threads = 1;
  int64_t max_enqueued_batches = 10;
  std::vector<int64_t> allowed_batch_sizes;
  bool enable_large_batch_splitting = false;
  bool pad_variable_length_inputs = false;

  int64_t BusyTimeoutMicros() const { return busy_batch_timeout_micros < 0 ? batch_timeout_micros : busy_batch_timeout_micros; }

  // Identifies a batching configuration: equal params share queues.
  std::string Key() const {
    std::string key = std::to_string(max_batch_size) + "/" + std::to_string(batch_timeout_micros) + "/" +
                      std::to_string(busy_batch_timeout_micros) + "/" +
                      std::to_string(num_batch_threads) + "/" + std::to_string(max_enqueued_batches) + "/" +
                      (enable_large_batch_splitting ? "s" : "-") + (pad_variable_length_inputs ? "p" : "-");
    for (int64_t size : allowed_batch_sizes) key += "," + std::to_string(size);
    return key;
  }
};

}  // namespace tfserve
