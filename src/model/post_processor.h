// The `post_processor` of a Hugging Face tokenizer.json, as far as it affects the ids of a
// single sequence: TemplateProcessing's `single` template (Llama 3 puts
// <|begin_of_text|> first), ByteLevel (offsets only: no change to ids), Sequence of
// those, or null. Pair templates are not used by lrem; other types are refused.
#pragma once

#include <vector>

#include "util/json_reader.h"

namespace lrem {

class PostProcessor {
 public:
  static PostProcessor from_json(const JsonValue& value);

  // Puts the template's special tokens around `ids`.
  void apply(std::vector<int>& ids) const;
  const std::vector<int>& prefix() const { return prefix_; }  // ids before the sequence
  const std::vector<int>& suffix() const { return suffix_; }  // ids after it

 private:
  void add_template(const JsonValue& value);

  std::vector<int> prefix_, suffix_;
};

}  // namespace lrem
