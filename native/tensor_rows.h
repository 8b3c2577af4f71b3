// Row (dim 0) operations the batcher needs: merge requests into one batch
// tensor, pad, and split outputs back per request.
#pragma once

#include <cstdint>
#include <vector>

#include "owned_tensor.h"

namespace tfserve {

// Copies every row of `src` (dims [r, a1..ak]) into `dst` (dims [R, b1..bk],
// each bi >= ai) from row `row_offset` on. Cells past ai keep their value
// (zero, or an empty string), which is how variable-length inputs are padded.
void CopyRowsInto(const TF_Tensor* src, TF_Tensor* dst, int64_t row_offset);

// Fills rows [begin, end) of `tensor` with copies of its row `source_row`.
void RepeatRow(TF_Tensor* tensor, int64_t source_row, int64_t begin, int64_t end);

// Rows [begin, begin + count) of `src` as a new tensor.
OwnedTensor SliceRows(const TF_Tensor* src, int64_t begin, int64_t count);

// Concatenates `parts` (of one dtype and rank) along dim 0 into a tensor of
// `rows` rows, or of as many as the parts hold if that is more; rows past
// the parts' are zero. Inner dims are those of the largest part, smaller
// parts padded as CopyRowsInto does.
OwnedTensor StackRows(const std::vector<const TF_Tensor*>& parts, int64_t rows = 0);

}  // namespace tfserve
