#include "model/chat_format.h"

namespace lrem {

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

}  // namespace

ChatFormat ChatFormat::for_tokenizer(const Tokenizer& tokenizer) {
  ChatFormat f;
  std::string end_of_turn;
  if (tokenizer.piece_to_id("<|im_start|>") >= 0 && tokenizer.piece_to_id("<|im_end|>") >= 0) {
    f.name_ = "chatml";
    f.message_ = "<|im_start|>{role}\n{content}<|im_end|>\n";
    f.reply_start_ = "<|im_start|>assistant\n";
    end_of_turn = "<|im_end|>";
  } else if (tokenizer.piece_to_id("<|start_header_id|>") >= 0 && tokenizer.piece_to_id("<|eot_id|>") >= 0) {
    f.name_ = "llama3";
    f.message_ = "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>";
    f.reply_start_ = "<|start_header_id|>assistant<|end_header_id|>\n\n";
    end_of_turn = "<|eot_id|>";
  } else {
    f.name_ = "plain";
    f.message_ = "{content}\n\n";
  }
  if (!end_of_turn.empty()) f.stop_ids_.push_back(tokenizer.piece_to_id(end_of_turn));
  return f;
}

std::string ChatFormat::render(const std::vector<ChatMessage>& messages) const {
  std::string out;
  for (const ChatMessage& m : messages) {
    std::string part = message_;
    // Content last, so a "{role}" written in a message stays as written.
    replace_all(part, "{role}", m.role);
    const size_t at = part.find("{content}");
    part.replace(at, 9, m.content);
    out += part;
  }
  return out + reply_start_;
}

}  // namespace lrem
