// How a chat (system / user / assistant messages) becomes the prompt text of a model that
// lrem generates with: the keyword teacher (eval/) and POST /v1/chat/completions (serve/)
// both render conversations here, so a model answers the same prompt in both.
//
// The format follows the special tokens the tokenizer has: ChatML when it knows
// `<|im_start|>` (Qwen2/2.5/3), the Llama 3 header format when it knows
// `<|start_header_id|>`, otherwise plain text (each message's content, then a blank line),
// which a model without chat training (such as the tiny test Llama) still continues.
#pragma once

#include <string>
#include <vector>

#include "lrem/tokenizer.h"

namespace lrem {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

class ChatFormat {
 public:
  static ChatFormat for_tokenizer(const Tokenizer& tokenizer);

  const std::string& name() const { return name_; }  // "chatml", "llama3" or "plain"
  // The conversation followed by the opening of the assistant's reply.
  std::string render(const std::vector<ChatMessage>& messages) const;
  // Token ids that end the assistant's turn (the tokenizer's EOS stops generation anyway).
  const std::vector<int>& stop_ids() const { return stop_ids_; }

 private:
  std::string name_;
  std::string message_;      // with {role} and {content}
  std::string reply_start_;  // opens the assistant's turn
  std::vector<int> stop_ids_;
};

}  // namespace lrem
