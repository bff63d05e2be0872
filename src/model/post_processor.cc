#include "model/post_processor.h"

#include <cstdint>

namespace lrem {

PostProcessor PostProcessor::from_json(const JsonValue& value) {
  PostProcessor processor;
  if (value.is_null()) return processor;
  const std::string type = value.at("type").as_string();
  if (type == "ByteLevel") return processor;
  if (type == "TemplateProcessing") {
    processor.add_template(value);
  } else if (type == "Sequence") {
    // Each processor wraps what the previous one produced.
    for (const JsonValue& step : value.at("processors").elements()) {
      const PostProcessor inner = from_json(step);
      processor.prefix_.insert(processor.prefix_.begin(), inner.prefix_.begin(), inner.prefix_.end());
      processor.suffix_.insert(processor.suffix_.end(), inner.suffix_.begin(), inner.suffix_.end());
    }
  } else {
    value.at("type").fail("post-processor type '" + type +
                          "' is not supported (supported: TemplateProcessing, ByteLevel, Sequence, or null)");
  }
  return processor;
}

void PostProcessor::add_template(const JsonValue& value) {
  const JsonValue special_tokens = value.at("special_tokens");
  bool seen_sequence = false;
  for (const JsonValue& item : value.at("single").elements()) {
    if (auto sequence = item.find("Sequence")) {
      const std::string id = sequence->at("id").as_string();
      if (id != "A" || seen_sequence)
        sequence->at("id").fail("the single template must name sequence A exactly once, got '" + id + "'");
      seen_sequence = true;
    } else if (auto special = item.find("SpecialToken")) {
      const JsonValue name = special->at("id");
      const auto entry = special_tokens.find(name.as_string());
      if (!entry) name.fail("'" + name.as_string() + "' is not listed in special_tokens");
      std::vector<int>& target = seen_sequence ? suffix_ : prefix_;
      for (const JsonValue& id : entry->at("ids").elements()) target.push_back(int(id.as_int(0, INT32_MAX)));
    } else {
      item.expected("{\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  if (!seen_sequence) value.at("single").fail("the single template does not contain the sequence ($A)");
}

void PostProcessor::apply(std::vector<int>& ids) const {
  ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
  ids.insert(ids.end(), suffix_.begin(), suffix_.end());
}

}  // namespace lrem
