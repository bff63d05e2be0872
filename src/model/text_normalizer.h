// The `normalizer` of a Hugging Face tokenizer.json: Unicode normalization forms (NFC,
// NFD, NFKC, NFKD, through ICU) and Sequence of them. Other types are refused.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/json_reader.h"

namespace lrem {

class TextNormalizer {
 public:
  // Null (no normalization) for a JSON null. FormatError naming the field for anything
  // this reader does not implement.
  static std::unique_ptr<const TextNormalizer> from_json(const JsonValue& value);
  virtual ~TextNormalizer() = default;

  // Normalizes valid UTF-8 in place.
  virtual void apply(std::string& text) const = 0;
};

}  // namespace lrem
