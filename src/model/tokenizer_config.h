// The special-token fields of Hugging Face's tokenizer_config.json (`bos_token`,
// `eos_token`, `pad_token`, `unk_token`), read the same way over either tokenizer format.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "util/json_reader.h"

namespace lrem {

// A field is a string, {"content": string, ...} or null. nullopt when `key` is missing, -1
// for null, else the id `to_id` gives its text; FormatError naming the field when `to_id`
// knows no such token (-1).
std::optional<int> read_special_token(const JsonValue& config, const char* key,
                                      const std::function<int(std::string_view)>& to_id);

}  // namespace lrem
