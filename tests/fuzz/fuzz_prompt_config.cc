// lrem_config.json (PromptConfig::from_json): templates, special-token names and the
// documented caps (max_cot_tokens, max_query_tokens, max_item_tokens).
#include <cstdlib>

#include "fuzz_support.h"
#include "lrem/prompt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const lrem::PromptConfig config = lrem::PromptConfig::from_json(lrem::fuzz::as_string(data, size), "fuzz.json");
    config.validate();
    const lrem::PromptConfig again = lrem::PromptConfig::from_json(config.to_json(), "fuzz/round-trip.json");
    if (again.to_json() != config.to_json()) std::abort();
  });
  return 0;
}
