// Options for text generation (and for sampling chains of thought).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrem {

struct GenerationOptions {
  int max_new_tokens = 64;
  float temperature = 0.0f;  // 0: greedy
  int top_k = 0;             // 0: no top-k filter
  float top_p = 1.0f;        // 1: no nucleus filter
  uint64_t seed = 0;
  std::vector<int> stop_ids;  // generation of a sequence ends after emitting one of these
  bool stop_at_eos = true;    // the tokenizer's EOS is a stop id
  bool add_bos = true;        // prepend BOS if the tokenizer config says so (Llama: yes)

  void validate() const;  // InvalidArgument for negative/NaN values
};

struct Generation {
  std::vector<int> prompt_ids;
  std::vector<int> token_ids;  // new tokens only, including the stop token if one was emitted
  std::string text;            // decoded new tokens (special tokens skipped)
  std::string finish_reason;   // "stop" or "length"
};

}  // namespace lrem
