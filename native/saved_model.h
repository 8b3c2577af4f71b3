// One loaded SavedModel: its graph, its session and the MetaGraphDef it was
// loaded from. Thread-safe: Run and Resolve may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tf_handles.h"

namespace tfserve {

struct LoadOptions {
  std::string export_dir;
  std::vector<std::string> tags;
  std::string config_proto;  // serialized tensorflow.ConfigProto, may be empty

  // Identifies the session in the process-wide registry.
  std::string Key() const;
};

class SavedModel {
  struct Token {
    explicit Token() = default;
  };

 public:
  SavedModel(Token, GraphPtr graph, SessionPtr session, std::string meta_graph_def)
      : graph_(std::move(graph)),
        session_(std::move(session)),
        meta_graph_def_(std::move(meta_graph_def)) {}

  // Blocks while TensorFlow loads; throws TfError.
  static std::shared_ptr<SavedModel> Load(const LoadOptions& options);

  const std::string& meta_graph_def() const { return meta_graph_def_; }

  // Resolves "op_name:index" (index defaults to 0) to a graph output.
  TF_Output Resolve(const std::string& tensor_name);

  // Feeds and fetches by tensor name; returns one tensor per fetch.
  std::vector<TensorPtr> Run(const std::vector<std::string>& feed_names,
                             const std::vector<TF_Tensor*>& feed_values,
                             const std::vector<std::string>& fetch_names);

 private:
  // The session must go before the graph it runs, hence this order.
  GraphPtr graph_;
  SessionPtr session_;
  std::string meta_graph_def_;

  std::mutex resolved_mutex_;
  std::unordered_map<std::string, TF_Output> resolved_;
};

}  // namespace tfserve
