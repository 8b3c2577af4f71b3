#include "tensor_rows.h"

#include <algorithm>
#include <cstring>

#include "shape_guard.h"
#include "tf_error.h"

namespace tfserve {

namespace {

void CopyElements(TF_DataType dtype, const char* src, char* dst, size_t count) {
  if (count == 0) return;
  if (dtype != TF_STRING) {
    std::memcpy(dst, src, count * TF_DataTypeSize(dtype));
    return;
  }
  const auto* from = reinterpret_cast<const TF_TString*>(src);
  auto* to = reinterpret_cast<TF_TString*>(dst);
  for (size_t i = 0; i < count; ++i) {
    TF_StringCopy(&to[i], TF_StringGetDataPointer(&from[i]), TF_StringGetSize(&from[i]));
  }
}

// Elements in dims[from..]. Every tensor here passed the shape guard (or
// came from TF, whose shapes are valid), so the product fits; it is still
// checked, since an unchecked overflow would turn into an out-of-bounds copy.
size_t Product(const std::vector<int64_t>& dims, size_t from) {
  int64_t product = 1;
  for (size_t i = from; i < dims.size(); ++i) {
    if (!MultiplyChecked(product, dims[i], &product)) {
      throw TfError(TF_INVALID_ARGUMENT, "shape " + FormatDims(dims) + " overflows when its rows are copied");
    }
  }
  return static_cast<size_t>(product);
}

}  // namespace

void CopyRowsInto(const TF_Tensor* src, TF_Tensor* dst, int64_t row_offset) {
  const TF_DataType dtype = TF_TensorType(src);
  const size_t element = ElementSize(dtype);
  const std::vector<int64_t> s = Dims(src);
  const std::vector<int64_t> d = Dims(dst);
  const char* from = static_cast<const char*>(TF_TensorData(src));
  char* to = static_cast<char*>(TF_TensorData(dst));
  const size_t dst_row = Product(d, 1);

  if (std::equal(s.begin() + 1, s.end(), d.begin() + 1)) {
    CopyElements(dtype, from, to + row_offset * dst_row * element, s[0] * dst_row);
    return;
  }
  // Padded inner dims: copy runs of the innermost dim one at a time.
  const size_t rank = s.size();
  const size_t run = static_cast<size_t>(s[rank - 1]);
  const size_t runs = Product(s, 0) / (run == 0 ? 1 : run);
  if (run == 0) return;
  std::vector<int64_t> index(rank - 1, 0);  // over dims 0..rank-2 of src
  for (size_t r = 0; r < runs; ++r) {
    size_t offset = static_cast<size_t>(index[0] + row_offset);
    for (size_t k = 1; k < rank - 1; ++k) offset = offset * static_cast<size_t>(d[k]) + static_cast<size_t>(index[k]);
    offset *= static_cast<size_t>(d[rank - 1]);
    CopyElements(dtype, from + r * run * element, to + offset * element, run);
    for (size_t k = rank - 1; k-- > 0;) {
      if (++index[k] < s[k]) break;
      index[k] = 0;
    }
  }
}

void RepeatRow(TF_Tensor* tensor, int64_t source_row, int64_t begin, int64_t end) {
  const TF_DataType dtype = TF_TensorType(tensor);
  const size_t element = ElementSize(dtype);
  const size_t row = Product(Dims(tensor), 1);
  char* data = static_cast<char*>(TF_TensorData(tensor));
  for (int64_t r = begin; r < end; ++r) {
    CopyElements(dtype, data + source_row * row * element, data + r * row * element, row);
  }
}

OwnedTensor SliceRows(const TF_Tensor* src, int64_t begin, int64_t count, const std::string& what) {
  const TF_DataType dtype = TF_TensorType(src);
  std::vector<int64_t> dims = Dims(src);
  if (dims.empty() || begin < 0 || count < 0 || begin > dims[0] || count > dims[0] - begin) {
    throw TfError(TF_INTERNAL, what + ": rows [" + std::to_string(begin) + ", +" + std::to_string(count) +
                                   ") are not in a tensor of shape " + FormatDims(dims));
  }
  dims[0] = count;
  OwnedTensor slice = OwnedTensor::Allocate(dtype, dims, what, /*zeroed=*/false);
  const size_t element = ElementSize(dtype);
  const size_t row = Product(dims, 1);
  CopyElements(dtype, static_cast<const char*>(TF_TensorData(src)) + begin * row * element,
               static_cast<char*>(TF_TensorData(slice.get())), count * row);
  return slice;
}

OwnedTensor StackRows(const std::vector<const TF_Tensor*>& parts, const std::string& what, int64_t rows,
                      size_t max_padding_factor) {
  std::vector<int64_t> dims = Dims(parts.front());
  const TF_DataType dtype = TF_TensorType(parts.front());
  int64_t filled = 0;
  bool ragged = false;
  for (const TF_Tensor* part : parts) {
    // TF_Dim CHECK-fails (aborts) on an index past the rank, and a model's
    // outputs may change rank with the batch (a squeeze): refuse, never index.
    if (dims.empty() || TF_NumDims(part) != static_cast<int>(dims.size()) || TF_TensorType(part) != dtype) {
      throw TfError(TF_FAILED_PRECONDITION, what + ": the parts to stack differ in dtype or rank (" +
                                                FormatDims(dims) + " and " + FormatDims(Dims(part)) +
                                                "), or have no batch dimension");
    }
    filled += TF_Dim(part, 0);  // rows are bounded by max_batch_size (< 2^53) per part
    for (size_t k = 1; k < dims.size(); ++k) {
      const int64_t d = TF_Dim(part, static_cast<int>(k));
      ragged |= d != dims[k];
      dims[k] = std::max(dims[k], d);
    }
  }
  dims[0] = std::max(rows, filled);
  // Padding ragged parts to the widest of each dim can make a shape no part
  // has (rows x the widest of every dim): the guard sees it here.
  if (ragged && max_padding_factor > 0) {
    size_t parts_bytes = 0;
    for (const TF_Tensor* part : parts) parts_bytes += TF_TensorByteSize(part);
    const ShapeSize size = CheckShape(dims, dtype, what);
    const size_t allowed = kPaddingSlackBytes + (parts_bytes > SIZE_MAX / max_padding_factor ? SIZE_MAX - kPaddingSlackBytes
                                                                                             : parts_bytes * max_padding_factor);
    if (size.bytes > allowed) {
      throw TfError(TF_RESOURCE_EXHAUSTED, what + ": padding the parts to " + FormatDims(dims) + " would take " +
                                               std::to_string(size.bytes) + " bytes for " + std::to_string(parts_bytes) +
                                               " bytes of data");
    }
  }
  OwnedTensor whole = OwnedTensor::Allocate(dtype, dims, what, /*zeroed=*/ragged || dims[0] > filled);
  int64_t offset = 0;
  for (const TF_Tensor* part : parts) {
    CopyRowsInto(part, whole.get(), offset);
    offset += TF_Dim(part, 0);
  }
  return whole;
}

}  // namespace tfserve
