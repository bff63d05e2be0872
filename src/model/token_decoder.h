// The `decoder` of a Hugging Face tokenizer.json: how token strings become text again.
// Implemented: ByteLevel (bytes back from GPT-2's alphabet, invalid UTF-8 -> U+FFFD),
// ByteFallback (`<0xAB>` tokens back to bytes), Fuse and Sequence; null joins the tokens
// with spaces, as Hugging Face does. Other types are refused naming the field.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/json_reader.h"

namespace lrem {

class TokenDecoder {
 public:
  static std::unique_ptr<const TokenDecoder> from_json(const JsonValue& value);
  virtual ~TokenDecoder() = default;

  // One step of Hugging Face's decode chain: rewrites the list of token strings.
  virtual void apply(std::vector<std::string>& tokens) const = 0;
};

// The text of `tokens` under `decoder` (which may be null). Always valid UTF-8.
std::string decode_tokens(const TokenDecoder* decoder, std::vector<std::string> tokens);

}  // namespace lrem
