// Safetensors header and tensor table (parse_safetensors_header): the bytes of a whole
// checkpoint file from someone else. Every tensor it accepts must lie inside the buffer.
#include <cstdlib>

#include "fuzz_support.h"
#include "lrem/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const lrem::SafetensorsHeader header = lrem::parse_safetensors_header(data, size, "fuzz.safetensors");
    for (const lrem::TensorInfo& t : header.tensors) {
      const bool inside = t.begin <= t.end && header.data_offset + t.end <= size;
      const bool size_matches = uint64_t(t.numel()) * lrem::dtype_size(t.dtype) == t.nbytes();
      if (!inside || !size_matches) std::abort();
      (void)header.find(t.name);
    }
  });
  return 0;
}
