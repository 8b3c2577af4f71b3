// Row (dim 0) operations the batcher needs: merge requests into one batch
// tensor, pad, and split outputs back per request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "owned_tensor.h"

namespace tfserve {

// Copies every row of `src` (dims [r, a1..ak]) into `dst` (dims [R, b1..bk],
// each bi >= ai) from row `row_offset` on. Cells past ai keep their value
// (zero, or an empty string), which is how variable-length inputs are padded.
void CopyRowsInto(const TF_Tensor* src, TF_Tensor* dst, int64_t row_offset);

// Fills rows [begin, end) of `tensor` with copies of its row `source_row`.
void RepeatRow(TF_Tensor* tensor, int64_t source_row, int64_t begin, int64_t end);

// Rows [begin, begin + count) of `src` as a new tensor. `what` names the
// tensor in errors (TfError: see OwnedTensor::Allocate).
OwnedTensor SliceRows(const TF_Tensor* src, int64_t begin, int64_t count, const std::string& what);

// Concatenates `parts` (of one dtype and rank) along dim 0 into a tensor of
// `rows` rows, or of as many as the parts hold if that is more; rows past
// the parts' are zero. Inner dims are those of the largest part, smaller
// parts padded as CopyRowsInto does. The merged shape passes the shape
// guard: throws TfError INVALID_ARGUMENT naming `what` when it fails it.
// Padding takes the widest of each dim over all parts, so ragged parts
// ([1,1,n] and [1,n,1]) can ask for far more than they hold: with
// `max_padding_factor` > 0, a padded result larger than that many times the
// parts' bytes (plus kPaddingSlackBytes) is refused with RESOURCE_EXHAUSTED.
constexpr size_t kPaddingSlackBytes = size_t{64} << 20;
OwnedTensor StackRows(const std::vector<const TF_Tensor*>& parts, const std::string& what, int64_t rows = 0,
                      size_t max_padding_factor = 0);

}  // namespace tfserve
