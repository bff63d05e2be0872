#include "model/tokenizer_config.h"

#include <string>

namespace lrem {

std::optional<int> read_special_token(const JsonValue& config, const char* key,
                                      const std::function<int(std::string_view)>& to_id) {
  std::optional<JsonValue> value = config.find(key);
  if (!value) return std::nullopt;
  if (value->is_null()) return -1;
  const JsonValue content = value->is_object() ? value->at("content") : *value;
  if (!content.is_string()) content.expected("a string or {\"content\": string}");
  const std::string text = content.as_string();
  const int id = to_id(text);
  if (id < 0) content.fail("'" + text + "' is not a token of this tokenizer (neither in its vocabulary nor added)");
  return id;
}

}  // namespace lrem
