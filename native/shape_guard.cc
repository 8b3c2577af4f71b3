#include "shape_guard.h"

#include <limits>

#include "owned_tensor.h"
#include "tf_error.h"

namespace tfserve {

bool MultiplyChecked(int64_t a, int64_t b, int64_t* product) {
  if (a < 0 || b < 0) return false;
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  *product = a * b;
  return true;
}

std::string FormatDims(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? "," : "") + std::to_string(dims[i]);
  return text + "]";
}

std::string RankProblem(size_t rank) {
  if (rank <= kMaxRank) return {};
  return "shape has rank " + std::to_string(rank) + "; TensorFlow accepts at most " + std::to_string(kMaxRank) +
         " dimensions";
}

std::string ShapeProblem(const int64_t* dims, size_t rank, size_t element_size, ShapeSize* size) {
  std::string problem = RankProblem(rank);
  if (!problem.empty()) return problem;
  int64_t non_zero = 1;  // product of the non-zero dimensions
  bool has_zero = false;
  for (size_t i = 0; i < rank; ++i) {
    if (dims[i] < 0) {
      return "shape[" + std::to_string(i) + "] is " + std::to_string(dims[i]) +
             "; dimensions must be non-negative";
    }
    if (dims[i] == 0) {
      has_zero = true;
      continue;
    }
    if (!MultiplyChecked(non_zero, dims[i], &non_zero)) {
      return "shape " + FormatDims(std::vector<int64_t>(dims, dims + rank)) +
             " overflows: the product of its dimensions does not fit in 64 bits";
    }
  }
  const int64_t elements = has_zero ? 0 : non_zero;
  int64_t bytes = 0;
  // Byte sizes are passed to TF as size_t and read back as int64: both must hold them.
  if (!MultiplyChecked(elements, static_cast<int64_t>(element_size), &bytes) ||
      static_cast<uint64_t>(bytes) > std::numeric_limits<size_t>::max()) {
    return "shape " + FormatDims(std::vector<int64_t>(dims, dims + rank)) + " holds " +
           std::to_string(elements) + " elements of " + std::to_string(element_size) +
           " bytes: more bytes than 64 bits can count";
  }
  size->elements = elements;
  size->bytes = static_cast<size_t>(bytes);
  return {};
}

ShapeSize CheckShape(const std::vector<int64_t>& dims, TF_DataType dtype, const std::string& what) {
  ShapeSize size;
  std::string problem = ShapeProblem(dims.data(), dims.size(), ElementSize(dtype), &size);
  if (!problem.empty()) throw TfError(TF_INVALID_ARGUMENT, what + ": " + problem);
  return size;
}

}  // namespace tfserve
