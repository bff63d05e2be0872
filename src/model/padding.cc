#include "model/padding.h"

#include <algorithm>

namespace lrem {

PaddedRows pad_rows(const std::vector<std::vector<int>>& rows, PadSide side, int64_t pad_id) {
  const int64_t n = static_cast<int64_t>(rows.size());
  int64_t width = 0;
  for (const auto& row : rows) width = std::max(width, static_cast<int64_t>(row.size()));
  PaddedRows out{at::full({n, width}, pad_id, at::kLong), at::zeros({n, width}, at::kLong),
                 at::zeros({n, width}, at::kLong)};
  auto ids = out.ids.accessor<int64_t, 2>();
  auto mask = out.mask.accessor<int64_t, 2>();
  auto positions = out.positions.accessor<int64_t, 2>();
  for (int64_t r = 0; r < n; ++r) {
    const auto& row = rows[r];
    const int64_t len = static_cast<int64_t>(row.size());
    const int64_t offset = side == PadSide::Left ? width - len : 0;
    for (int64_t t = 0; t < len; ++t) {
      ids[r][offset + t] = row[t];
      mask[r][offset + t] = 1;
      positions[r][offset + t] = t;
    }
  }
  return out;
}

}  // namespace lrem
