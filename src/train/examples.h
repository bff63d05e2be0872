// Training examples for the LREM stages, read from JSON Lines:
//   stage 1: {"query": str, "cot": str, "item": str | "item_id": int, "negatives": [str | int],
//             "category": str}
//   stage 2: {"query": str, "item": str | "item_id": int, "category": str}
// An "item_id" (and an integer negative) is resolved through the catalogue (items.jsonl).
// Errors name the file and the 1-based line.
#pragma once

#include <string>
#include <vector>

namespace lrem::train {

struct Example {
  std::string query;
  std::string cot;                     // empty for stage 2
  std::string item;                    // the target item's title
  std::vector<std::string> negatives;  // hard-negative titles (stage 1)
  std::string category;
};

// require_cot: stage 1 (a "cot" string per line). catalogue may be "" when no line uses ids.
// FormatError naming file and line for bad JSON, a missing or mistyped field, an unknown
// item id, an empty file.
std::vector<Example> read_examples(const std::string& path, const std::string& catalogue, bool require_cot);

}  // namespace lrem::train
