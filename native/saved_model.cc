#include "saved_model.h"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "free_memory.h"
#include "run_pool.h"
#include "tf_error.h"

namespace tfserve {

std::string LoadOptions::Key() const {
  std::string key = export_dir;
  for (const auto& tag : tags) {
    key.push_back('\0');
    key += tag;
  }
  key.push_back('\1');
  key += config_proto;
  return key;
}

namespace {

std::atomic<size_t> live_models{0};

// Batchers (signature x output filter x params) one model may have.
constexpr size_t kMaxBatchersPerModel = 32;

// Destroying a model closes its session and joins its batch threads: never
// on a JS thread or on one of those batch threads. The pages the session
// freed then go back to the system (see free_memory.h).
struct OffServingThreadDeleter {
  void operator()(SavedModel* model) const {
    auto close = [doomed = std::unique_ptr<SavedModel>(model)]() mutable {
      doomed.reset();
      ReturnFreedMemory();
    };
    if (IsServingThread()) {
      std::thread(std::move(close)).detach();
    } else {
      close();
    }
  }
};

class DirectRun : public Job {
 public:
  DirectRun(SavedModel* model, RunSpec spec, TaskPtr task)
      : model_(model), spec_(std::move(spec)), task_(std::move(task)) {}

  void Run() override {
    if (TF_Code why = task_->Unwanted(Clock::now())) {
      FinishUnwanted(std::move(task_), why);
      return;
    }
    Task::Finish(std::move(task_), model_->Run(spec_.feed_names, task_->inputs(), spec_.fetch_names));
  }

 private:
  SavedModel* model_;  // kept alive by the task
  RunSpec spec_;
  TaskPtr task_;
};

size_t CountVariables(TF_Graph* graph) {
  size_t position = 0;
  size_t count = 0;
  while (TF_Operation* op = TF_GraphNextOperation(graph, &position)) {
    std::string type = TF_OperationOpType(op);
    if (type == "VarHandleOp" || type == "VariableV2" || type == "Variable") ++count;
  }
  return count;
}

// TF skips the restore silently when variables/ is missing, and the model
// then fails at every run; refuse it at load instead.
void CheckVariablesPresent(const std::string& export_dir, TF_Graph* graph) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  if (fs::exists(fs::path(export_dir) / "variables" / "variables.index", ignored)) return;
  size_t count = CountVariables(graph);
  if (count == 0) return;
  throw TfError(TF_NOT_FOUND, "the SavedModel has " + std::to_string(count) +
                                  " variables but no variables/variables.index in " + export_dir);
}

}  // namespace

std::shared_ptr<SavedModel> SavedModel::Load(const LoadOptions& options) {
  StatusPtr status = NewStatus();
  SessionOptionsPtr session_options(TF_NewSessionOptions());
  if (!options.config_proto.empty()) {
    TF_SetConfig(session_options.get(), options.config_proto.data(),
                 options.config_proto.size(), status.get());
    ThrowIfError(status.get(), "invalid session config");
  }

  std::vector<const char*> tags;
  tags.reserve(options.tags.size());
  for (const auto& tag : options.tags) tags.push_back(tag.c_str());

  GraphPtr graph(TF_NewGraph());
  BufferPtr meta_graph(TF_NewBuffer());
  TF_Session* raw = TF_LoadSessionFromSavedModel(
      session_options.get(), nullptr, options.export_dir.c_str(), tags.data(),
      static_cast<int>(tags.size()), graph.get(), meta_graph.get(), status.get());
  SessionPtr session(raw);
  ThrowIfError(status.get());
  if (!session) throw TfError(TF_INTERNAL, "TensorFlow returned no session");
  CheckVariablesPresent(options.export_dir, graph.get());

  std::vector<DeviceInfo> devices = ListDevices(session.get());

  std::string meta(static_cast<const char*>(meta_graph->data), meta_graph->length);
  auto model = std::make_unique<SavedModel>(Token{}, std::move(graph), std::move(session), std::move(meta),
                                            std::move(devices), options.config_proto);
  live_models.fetch_add(1);
  return std::shared_ptr<SavedModel>(model.release(), OffServingThreadDeleter{});
}

SavedModel::~SavedModel() { live_models.fetch_sub(1); }

size_t SavedModel::LiveCount() { return live_models.load(); }

void SavedModel::Submit(TaskPtr task, RunSpec spec, const BatchingParams* batching) {
  Batcher* batcher = nullptr;
  if (batching != nullptr) {
    std::string key = batching->Key();
    for (const auto& name : spec.feed_names) (key += '\0') += name;
    key += '\1';
    for (const auto& name : spec.fetch_names) (key += '\0') += name;
    std::lock_guard<std::mutex> lock(batchers_mutex_);
    auto it = batchers_.find(key);
    if (it != batchers_.end()) {
      batcher = it->second.get();
    } else if (batchers_.size() < kMaxBatchersPerModel) {
      auto& slot = batchers_[key];
      slot = std::make_unique<Batcher>(this, *batching, std::move(spec.feed_names), std::move(spec.fetch_names));
      batcher = slot.get();
    }
  }
  if (batcher != nullptr) {
    batcher->Submit(std::move(task));
    return;
  }
  // Unbatched, or past the cap: each batcher owns threads, and clients choose
  // the output filters that key them, so further combinations run unbatched.
  RunPool::Instance().Submit(std::make_unique<DirectRun>(this, std::move(spec), std::move(task)));
}

std::map<std::string, BatcherStats> SavedModel::BatchingStats(const BatchingParams& params) {
  const std::string prefix = params.Key() + '\0';
  std::lock_guard<std::mutex> lock(batchers_mutex_);
  std::map<std::string, BatcherStats> stats;
  for (auto& [key, batcher] : batchers_) {
    if (key.compare(0, prefix.size(), prefix) == 0) stats[key] = batcher->Stats();
  }
  return stats;
}

TF_Output SavedModel::Resolve(const std::string& tensor_name) {
  {
    std::lock_guard<std::mutex> lock(resolved_mutex_);
    auto it = resolved_.find(tensor_name);
    if (it != resolved_.end()) return it->second;
  }
  std::string op_name = tensor_name;
  int index = 0;
  auto colon = tensor_name.rfind(':');
  if (colon != std::string::npos) {
    op_name = tensor_name.substr(0, colon);
    char* end = nullptr;
    const char* digits = tensor_name.c_str() + colon + 1;
    errno = 0;
    long parsed = std::strtol(digits, &end, 10);
    // An index past int would wrap in the cast to TF_Output's int.
    if (*digits == '\0' || *end != '\0' || parsed < 0 || errno == ERANGE || parsed > INT_MAX) {
      throw TfError(TF_INVALID_ARGUMENT, "malformed tensor name '" + tensor_name + "'");
    }
    index = static_cast<int>(parsed);
  }
  TF_Operation* op = TF_GraphOperationByName(graph_.get(), op_name.c_str());
  if (op == nullptr) {
    throw TfError(TF_NOT_FOUND, "tensor '" + tensor_name + "' is not in the graph");
  }
  if (index >= TF_OperationNumOutputs(op)) {
    throw TfError(TF_NOT_FOUND, "operation '" + op_name + "' has no output " +
                                    std::to_string(index));
  }
  TF_Output output{op, index};
  std::lock_guard<std::mutex> lock(resolved_mutex_);
  resolved_.emplace(tensor_name, output);
  return output;
}

RunResult SavedModel::Run(const std::vector<std::string>& feed_names, const std::vector<TF_Tensor*>& feed_values,
                          const std::vector<std::string>& fetch_names) {
  try {
    std::vector<TF_Output> inputs;
    inputs.reserve(feed_names.size());
    for (const auto& name : feed_names) inputs.push_back(Resolve(name));
    std::vector<TF_Output> outputs;
    outputs.reserve(fetch_names.size());
    for (const auto& name : fetch_names) outputs.push_back(Resolve(name));

    std::vector<TF_Tensor*> raw_outputs(outputs.size(), nullptr);
    StatusPtr status = NewStatus();
    const auto started = Clock::now();
    TF_SessionRun(session_.get(), nullptr, inputs.data(), feed_values.data(), static_cast<int>(inputs.size()),
                  outputs.data(), raw_outputs.data(), static_cast<int>(outputs.size()), nullptr, 0, nullptr,
                  status.get());

    const int64_t took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    const int64_t typical = typical_run_micros_.load(std::memory_order_relaxed);
    typical_run_micros_.store(typical == 0 ? took : (7 * typical + took) / 8, std::memory_order_relaxed);

    RunResult result;
    result.outputs.reserve(raw_outputs.size());
    for (TF_Tensor* t : raw_outputs) result.outputs.push_back(OwnedTensor::Adopt(t));
    ThrowIfError(status.get());
    // Everything downstream reads the outputs' shapes: a null one would crash there.
    for (size_t i = 0; i < raw_outputs.size(); ++i) {
      if (raw_outputs[i] == nullptr) throw TfError(TF_INTERNAL, "TensorFlow returned no tensor for '" + fetch_names[i] + "'");
    }
    return result;
  } catch (const std::exception& error) {
    return RunResult::Failed(error, "");
  }
}

}  // namespace tfserve
