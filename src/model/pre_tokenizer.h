// The `pre_tokenizer` of a Hugging Face tokenizer.json: how text is cut into words before
// BPE sees them. Implemented: Split (a regex or literal pattern, Isolated behaviour),
// ByteLevel (GPT-2's regex and byte alphabet) and Sequence. Other types and options are
// refused naming the field, never approximated.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/json_reader.h"

namespace lrem {

class PreTokenizer {
 public:
  // Null (the text is one word) for a JSON null.
  static std::unique_ptr<const PreTokenizer> from_json(const JsonValue& value);
  virtual ~PreTokenizer() = default;

  // Replaces every piece by the pieces it splits into (and may rewrite them, as ByteLevel
  // does); empty pieces are dropped, as Hugging Face drops them.
  virtual void apply(std::vector<std::string>& pieces) const = 0;
};

}  // namespace lrem
