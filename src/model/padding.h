// The one routine that lays token-id rows of different lengths out as a [rows, width] batch
// (width: the longest row). Inference aligns rows right, so that every row's newest token is
// in the last column (the decoder and the embedder read that column); training batches align
// them left, so that padding only follows a row's last token.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace lrem {

enum class PadSide { Left, Right };

struct PaddedRows {
  at::Tensor ids;        // [rows, width] int64; pad_id where there is no token
  at::Tensor mask;       // [rows, width] int64; 1 for tokens, 0 for padding
  at::Tensor positions;  // [rows, width] int64; each token's index within its row, 0 on padding
};

PaddedRows pad_rows(const std::vector<std::vector<int>>& rows, PadSide side, int64_t pad_id = 0);

}  // namespace lrem
