#include "model/cot.h"

#include <algorithm>

#include "lrem/error.h"

namespace lrem {

GenerationOptions cot_generation(const GenerationOptions& sampling, int max_cot_tokens, int think_close_id) {
  if (max_cot_tokens < 0) throw InvalidArgument("max_cot_tokens must be >= 0, got " + std::to_string(max_cot_tokens));
  GenerationOptions options = sampling;
  options.max_new_tokens = max_cot_tokens + 1;  // room for a CoT of exactly the cap and its `</think>`
  options.stop_ids = {think_close_id};
  return options;
}

CotEnding end_cot(const std::vector<int>& generated, int max_cot_tokens, int think_close_id,
                  const std::function<bool(int)>& is_special) {
  CotEnding out;
  const auto close = std::find(generated.begin(), generated.end(), think_close_id);
  out.closed = close != generated.end() && close - generated.begin() <= max_cot_tokens;
  const auto end = out.closed ? close : generated.begin() + std::min<ptrdiff_t>(generated.size(), std::max(0, max_cot_tokens));
  out.cot.assign(generated.begin(), end);
  out.well_formed = out.closed && std::none_of(out.cot.begin(), out.cot.end(), is_special);
  return out;
}

}  // namespace lrem
