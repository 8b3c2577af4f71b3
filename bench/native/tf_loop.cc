// TF's own ceiling for `npm run bench`: loads a SavedModel with the C API and
// calls TF_SessionRun in a closed loop from N threads at a fixed batch size,
// with no JavaScript anywhere. Prints one JSON object on stdout.
//
//   tf_loop --model DIR --input NAME:0 --shape 28,28 --output NAME:0 [--output ...]
//           [--tag serve] [--batch 1] [--threads 1] [--seconds 3] [--warmup 0.5]
//           [--min-calls 3]
//
// --shape is the shape of one example (without the batch dim). Inputs are
// float32, filled with a fixed pseudo-random sequence.
#include <tensorflow/c/c_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct StatusDeleter { void operator()(TF_Status* s) const { TF_DeleteStatus(s); } };
struct GraphDeleter { void operator()(TF_Graph* g) const { TF_DeleteGraph(g); } };
struct OptionsDeleter { void operator()(TF_SessionOptions* o) const { TF_DeleteSessionOptions(o); } };
struct BufferDeleter { void operator()(TF_Buffer* b) const { TF_DeleteBuffer(b); } };
struct TensorDeleter { void operator()(TF_Tensor* t) const { TF_DeleteTensor(t); } };

using StatusPtr = std::unique_ptr<TF_Status, StatusDeleter>;
using GraphPtr = std::unique_ptr<TF_Graph, GraphDeleter>;
using OptionsPtr = std::unique_ptr<TF_SessionOptions, OptionsDeleter>;
using BufferPtr = std::unique_ptr<TF_Buffer, BufferDeleter>;
using TensorPtr = std::unique_ptr<TF_Tensor, TensorDeleter>;

StatusPtr NewStatus() { return StatusPtr(TF_NewStatus()); }

void Check(TF_Status* status, const std::string& what) {
  if (TF_GetCode(status) != TF_OK) {
    throw std::runtime_error(what + ": " + TF_Message(status));
  }
}

void AppendVarintField(std::string& bytes, int field, int32_t number) {
  bytes.push_back(static_cast<char>(field << 3));  // wire type 0: varint
  uint64_t value = static_cast<uint64_t>(static_cast<int64_t>(number));  // int32 varints sign-extend to 64 bits
  do {
    uint8_t byte = value & 0x7f;
    value >>= 7;
    bytes.push_back(static_cast<char>(value ? byte | 0x80 : byte));
  } while (value);
}

// tensorflow.ConfigProto { intra_op_parallelism_threads = 2; inter_op_parallelism_threads = 5; }
std::string SessionConfig(int intra_op, int inter_op) {
  std::string bytes;
  AppendVarintField(bytes, 2, intra_op);
  AppendVarintField(bytes, 5, inter_op);
  return bytes;
}

// Closes and deletes the session; a failure to close is reported, not thrown.
class Session {
 public:
  Session(const std::string& dir, const std::string& tag, int intra_op, int inter_op) : graph_(TF_NewGraph()) {
    OptionsPtr options(TF_NewSessionOptions());
    StatusPtr status = NewStatus();
    // The same session config as the contender this loop bounds.
    const std::string config = SessionConfig(intra_op, inter_op);
    TF_SetConfig(options.get(), config.data(), config.size(), status.get());
    Check(status.get(), "session config");
    const char* tags[] = {tag.c_str()};
    session_ = TF_LoadSessionFromSavedModel(options.get(), nullptr, dir.c_str(), tags, 1, graph_.get(),
                                            nullptr, status.get());
    Check(status.get(), "loading " + dir);
  }
  ~Session() {
    StatusPtr status = NewStatus();
    TF_CloseSession(session_, status.get());
    TF_DeleteSession(session_, status.get());
    if (TF_GetCode(status.get()) != TF_OK) std::fprintf(stderr, "closing the session: %s\n", TF_Message(status.get()));
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  TF_Output Resolve(const std::string& name) const {
    const auto colon = name.rfind(':');
    const std::string op_name = colon == std::string::npos ? name : name.substr(0, colon);
    const int index = colon == std::string::npos ? 0 : std::stoi(name.substr(colon + 1));
    TF_Operation* op = TF_GraphOperationByName(graph_.get(), op_name.c_str());
    if (op == nullptr) throw std::runtime_error("no operation '" + op_name + "' in the graph");
    return TF_Output{op, index};
  }

  // Runs once; the outputs are freed before returning.
  void Run(const TF_Output& input, TF_Tensor* value, const std::vector<TF_Output>& fetches) const {
    std::vector<TF_Tensor*> outputs(fetches.size(), nullptr);
    StatusPtr status = NewStatus();
    TF_SessionRun(session_, nullptr, &input, &value, 1, fetches.data(), outputs.data(),
                  static_cast<int>(fetches.size()), nullptr, 0, nullptr, status.get());
    for (TF_Tensor* t : outputs) TensorPtr owned(t);
    Check(status.get(), "TF_SessionRun");
  }

 private:
  GraphPtr graph_;
  TF_Session* session_ = nullptr;
};

struct Options {
  std::string model;
  std::string tag = "serve";
  std::string input;
  std::vector<int64_t> shape;
  std::vector<std::string> outputs;
  int batch = 1;
  int threads = 1;
  double seconds = 3;
  double warmup = 0.5;
  int min_calls = 3;
  int intra_op = 0;
  int inter_op = 0;
};

std::vector<int64_t> ParseShape(const std::string& text) {
  std::vector<int64_t> dims;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const size_t comma = text.find(',', start);
    dims.push_back(std::stoll(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dims;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--model") o.model = value;
    else if (flag == "--tag") o.tag = value;
    else if (flag == "--input") o.input = value;
    else if (flag == "--shape") o.shape = ParseShape(value);
    else if (flag == "--output") o.outputs.push_back(value);
    else if (flag == "--batch") o.batch = std::stoi(value);
    else if (flag == "--threads") o.threads = std::stoi(value);
    else if (flag == "--seconds") o.seconds = std::stod(value);
    else if (flag == "--warmup") o.warmup = std::stod(value);
    else if (flag == "--min-calls") o.min_calls = std::stoi(value);
    else if (flag == "--inter-op") o.inter_op = std::stoi(value);
    else if (flag == "--intra-op") o.intra_op = std::stoi(value);
    else throw std::runtime_error("unknown flag " + flag);
  }
  if (o.model.empty() || o.input.empty() || o.outputs.empty()) {
    throw std::runtime_error("--model, --input and at least one --output are required");
  }
  if (o.batch < 1 || o.threads < 1 || o.seconds <= 0 || o.warmup < 0) {
    throw std::runtime_error("--batch and --threads must be >= 1, --seconds > 0, --warmup >= 0");
  }
  return o;
}

TensorPtr MakeInput(const Options& o, uint32_t seed) {
  std::vector<int64_t> dims{o.batch};
  dims.insert(dims.end(), o.shape.begin(), o.shape.end());
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  TensorPtr tensor(TF_AllocateTensor(TF_FLOAT, dims.data(), static_cast<int>(dims.size()),
                                     static_cast<size_t>(count) * sizeof(float)));
  auto* data = static_cast<float*>(TF_TensorData(tensor.get()));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (int64_t i = 0; i < count; ++i) data[i] = uniform(rng);
  return tensor;
}

struct ThreadResult {
  std::vector<double> latencies_us;  // calls that started inside the measured window
  Clock::time_point last_finish{};
  std::string error;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

int Main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  const Session session(o.model, o.tag, o.intra_op, o.inter_op);
  const TF_Output input = session.Resolve(o.input);
  std::vector<TF_Output> fetches;
  for (const auto& name : o.outputs) fetches.push_back(session.Resolve(name));

  {  // The first run builds TF's executors; keep it out of every measurement.
    const TensorPtr first = MakeInput(o, 1);
    session.Run(input, first.get(), fetches);
  }

  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto stop_at = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<ThreadResult> results(static_cast<size_t>(o.threads));
  std::atomic<int> measured_calls{0};  // across threads, for --min-calls
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      ThreadResult& r = results[t];
      try {
        const TensorPtr value = MakeInput(o, static_cast<uint32_t>(t + 2));
        while (true) {
          const auto began = Clock::now();
          const bool measured = began >= measure_from;
          if (began >= stop_at && measured_calls.load(std::memory_order_relaxed) >= o.min_calls) break;
          session.Run(input, value.get(), fetches);
          const auto ended = Clock::now();
          if (measured) {
            measured_calls.fetch_add(1, std::memory_order_relaxed);
            r.latencies_us.push_back(std::chrono::duration<double, std::micro>(ended - began).count());
            r.last_finish = ended;
          }
        }
      } catch (const std::exception& e) {
        r.error = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::vector<double> all;
  auto last_finish = measure_from;
  for (const auto& r : results) {
    if (!r.error.empty()) throw std::runtime_error(r.error);
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    last_finish = std::max(last_finish, r.last_finish);
  }
  std::sort(all.begin(), all.end());
  const double window = std::chrono::duration<double>(last_finish - measure_from).count();
  const double calls = static_cast<double>(all.size());
  double mean = 0;
  for (double v : all) mean += v;
  mean = all.empty() ? 0 : mean / calls;
  std::printf(
      "{\"tfVersion\":\"%s\",\"batch\":%d,\"threads\":%d,\"calls\":%zu,\"seconds\":%.6f,"
      "\"callsPerSecond\":%.3f,\"examplesPerSecond\":%.3f,"
      "\"latencyUs\":{\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"min\":%.3f,\"max\":%.3f}}\n",
      TF_Version(), o.batch, o.threads, all.size(), window, window > 0 ? calls / window : 0,
      window > 0 ? calls * o.batch / window : 0, mean, Percentile(all, 50), Percentile(all, 90),
      Percentile(all, 99), all.empty() ? 0 : all.front(), all.empty() ? 0 : all.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tf_loop: %s\n", e.what());
    return 1;
  }
}
