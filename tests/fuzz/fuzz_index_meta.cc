// An index's meta.json (IndexMeta::parse), checked before FAISS reads index.faiss.
#include <cstdlib>

#include "fuzz_support.h"
#include "retrieval/index_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const lrem::IndexMeta meta = lrem::IndexMeta::parse(lrem::fuzz::as_string(data, size), "fuzz/meta.json", 1);
    if (meta.dim <= 0 || meta.count < 0 || meta.index_sha256.size() != 64) std::abort();
    const lrem::IndexMeta again = lrem::IndexMeta::parse(meta.to_json(), "fuzz/round-trip.json", 1);
    if (again.to_json() != meta.to_json()) std::abort();
  });
  return 0;
}
