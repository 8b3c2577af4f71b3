// One loaded SavedModel: its graph, its session and the MetaGraphDef it was
// loaded from. Thread-safe: Run and Resolve may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "batcher.h"
#include "batching_params.h"
#include "devices.h"
#include "owned_tensor.h"
#include "task.h"
#include "tf_handles.h"

namespace tfserve {

struct LoadOptions {
  std::string export_dir;
  std::vector<std::string> tags;
  std::string config_proto;  // serialized tensorflow.ConfigProto, may be empty

  // Identifies the session in the process-wide registry.
  std::string Key() const;
};

// The names a run feeds and fetches.
struct RunSpec {
  std::vector<std::string> feed_names;
  std::vector<std::string> fetch_names;
};

class SavedModel {
  struct Token {
    explicit Token() = default;
  };

 public:
  SavedModel(Token, GraphPtr graph, SessionPtr session, std::string meta_graph_def,
             std::vector<DeviceInfo> devices, std::string config_proto)
      : graph_(std::move(graph)),
        session_(std::move(session)),
        meta_graph_def_(std::move(meta_graph_def)),
        devices_(std::move(devices)),
        config_proto_(std::move(config_proto)) {}

  ~SavedModel();

  // Blocks while TensorFlow loads; throws TfError. The last reference to the
  // result, if dropped on a serving thread, destroys it on a fresh thread.
  static std::shared_ptr<SavedModel> Load(const LoadOptions& options);

  // Models alive in this process.
  static size_t LiveCount();

  const std::string& meta_graph_def() const { return meta_graph_def_; }
  // What TF_SessionListDevices returned right after the load.
  const std::vector<DeviceInfo>& devices() const { return devices_; }
  // The serialized ConfigProto handed to TF_SetConfig (empty: TF's defaults).
  const std::string& config_proto() const { return config_proto_; }

  // Resolves "op_name:index" (index defaults to 0) to a graph output.
  TF_Output Resolve(const std::string& tensor_name);

  // Feeds and fetches by tensor name: one output tensor per fetch, or TF's
  // error. Blocks.
  RunResult Run(const std::vector<std::string>& feed_names, const std::vector<TF_Tensor*>& feed_values,
                const std::vector<std::string>& fetch_names);

  // Queues a task: to the batcher for (batching, feeds, fetches) when
  // `batching` is given, else to the process-wide run pool.
  void Submit(TaskPtr task, RunSpec spec, const BatchingParams* batching);

  // A moving average of how long runs of this model take (any thread).
  std::chrono::microseconds TypicalRunTime() const {
    return std::chrono::microseconds(typical_run_micros_.load(std::memory_order_relaxed));
  }

  // Stats of the batchers using these params, keyed by feeds/fetches/params.
  std::map<std::string, BatcherStats> BatchingStats(const BatchingParams& params);

 private:
  // The session must go before the graph it runs, hence this order.
  GraphPtr graph_;
  SessionPtr session_;
  std::string meta_graph_def_;
  std::vector<DeviceInfo> devices_;
  std::string config_proto_;

  std::mutex resolved_mutex_;
  std::unordered_map<std::string, TF_Output> resolved_;
  std::atomic<int64_t> typical_run_micros_{0};

  // Declared last: batchers stop (joining their threads) before the session goes.
  std::mutex batchers_mutex_;
  std::map<std::string, std::unique_ptr<Batcher>> batchers_;
};

}  // namespace tfserve
