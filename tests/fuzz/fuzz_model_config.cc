// config.json (ModelConfig::from_json): an accepted config must validate and survive a
// round trip through to_json().
#include <cstdlib>

#include "fuzz_support.h"
#include "lrem/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const lrem::ModelConfig config = lrem::ModelConfig::from_json(lrem::fuzz::as_string(data, size), "fuzz/config.json");
    const lrem::ModelConfig again = lrem::ModelConfig::from_json(config.to_json(), "fuzz/round-trip.json");
    if (again.to_json() != config.to_json()) std::abort();
    (void)config.num_parameters();
  });
  return 0;
}
