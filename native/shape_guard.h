// The shape guard: every shape the addon hands to TensorFlow passes here
// first. TF's TensorShape does not return a status for a shape it refuses
// when built through the C API (TF_AllocateTensor / TF_NewTensor): it aborts
// the whole process with a CHECK. Its limits, from
// tensorflow/core/framework/tensor_shape.cc (2.15):
//   - at most 254 dimensions ("Too many dimensions in tensor");
//   - no negative dimension;
//   - the running product of the dimensions, taken in order, never overflows
//     int64 ("Encountered overflow"), so [2^40, 2^40, 0] aborts although it
//     holds no element.
// The guard is stricter on the last point, as src/engine/tensor.ts's
// checkShapeLimits: the product of the non-zero dimensions must fit, in any
// order ([0, 2^40, 2^40] is refused too). It also checks that the byte size
// (elements x element size) fits, so no caller multiplies unchecked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensorflow/c/c_api.h"

namespace tfserve {

// TensorShape::MaxDimensions() in TF: rank 255 or more aborts.
constexpr size_t kMaxRank = 254;

struct ShapeSize {
  int64_t elements = 0;
  size_t bytes = 0;  // elements x element size (sizeof(TF_TString) for strings)
};

// Why a shape of `rank` dimensions is refused, or an empty string: checked
// alone before reading a JS shape array, which may be as long as its sender likes.
std::string RankProblem(size_t rank);

// Why `dims` cannot be a tensor of elements of `element_size` bytes, or an
// empty string when it can; `size` is set when it can.
std::string ShapeProblem(const int64_t* dims, size_t rank, size_t element_size, ShapeSize* size);

// The guard: throws TfError(INVALID_ARGUMENT, "<what>: <problem>") or returns
// the element count and byte size of a tensor of `dtype` with `dims`.
ShapeSize CheckShape(const std::vector<int64_t>& dims, TF_DataType dtype, const std::string& what);

// "[2,3]", as messages print shapes.
std::string FormatDims(const std::vector<int64_t>& dims);

// a * b, or false when the product of two non-negative values overflows int64.
bool MultiplyChecked(int64_t a, int64_t b, int64_t* product);

}  // namespace tfserve
