// Text through a tokenizer.json tokenizer with every feature lrem implements (NFC, the
// Qwen2 split regex, ByteLevel, added tokens with lstrip/rstrip/single_word/normalized:
// tests/data/tokenizers/added.json). Arbitrary bytes must either be refused as invalid
// UTF-8 or encode to ids in range that decode to valid UTF-8.
#include <cstdlib>

#include "fuzz_support.h"
#include "lrem/tokenizer.h"
#include "util/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const lrem::Tokenizer tokenizer =
      lrem::Tokenizer::load(std::string(LREM_SOURCE_DIR) + "/tests/data/tokenizers/added.json");
  const std::string text = lrem::fuzz::as_string(data, size);
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const std::vector<int> ids = tokenizer.encode_with_special_tokens(text);
    for (int id : ids)
      if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
    if (!lrem::is_valid_utf8(tokenizer.decode(ids)) || !lrem::is_valid_utf8(tokenizer.decode(ids, true))) std::abort();
  });
  return 0;
}
