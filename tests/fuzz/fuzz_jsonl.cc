// JSON Lines readers (items, queries, qrels) and the item store built from items: the
// first byte picks the reader, the rest is the file. A small line limit exercises
// LimitExceeded as well.
#include "fuzz_support.h"
#include "lrem/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text = lrem::fuzz::as_string(data + 1, size - 1);
  const size_t max_line = 4096;
  lrem::fuzz::expect_value_or_lrem_error([&] {
    switch (data[0] % 3) {
      case 0: {
        const lrem::ItemStore store(lrem::parse_items(text, "fuzz/items.jsonl", max_line));
        for (const lrem::Item& item : store.items()) (void)store.at(item.id);
        break;
      }
      case 1:
        (void)lrem::parse_queries(text, "fuzz/queries.jsonl", max_line);
        break;
      default:
        (void)lrem::parse_qrels(text, "fuzz/qrels.jsonl", max_line);
    }
  });
  return 0;
}
