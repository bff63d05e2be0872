// Prompt presets and the direct-embedder convention (no think section) of lrem_config.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "lrem/error.h"
#include "lrem/prompt.h"
#include "lrem/tokenizer.h"

namespace lrem {
namespace {

const std::string kAdded = std::string(LREM_SOURCE_DIR) + "/tests/data/tokenizers/added.json";

TEST(PromptConfig, PresetsAreCompleteConfigsAndUnknownNamesListTheValidOnes) {
  EXPECT_EQ(PromptConfig::preset_names(),
            (std::vector<std::string>{"plain", "qwen-chat", "llama3-chat", "qwen3-embedding"}));
  EXPECT_EQ(PromptConfig::preset("plain").to_json(), PromptConfig{}.to_json());
  EXPECT_EQ(PromptConfig::preset("qwen-chat").query_template,
            "<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_TRUE(PromptConfig::preset("llama3-chat").think);
  const PromptConfig embedding = PromptConfig::preset("qwen3-embedding");
  EXPECT_FALSE(embedding.think);
  EXPECT_EQ(embedding.emb, "<|endoftext|>");
  for (const std::string& name : PromptConfig::preset_names()) EXPECT_NO_THROW(PromptConfig::preset(name).validate());
  try {
    PromptConfig::preset("chatml");
    ADD_FAILURE() << "accepted an unknown preset";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'chatml'; the presets are plain, qwen-chat, llama3-chat, qwen3-embedding"),
              std::string::npos) << e.what();
  }
}

TEST(PromptConfig, JsonStartsFromItsPresetAndKeepsOldConfigsByteForByte) {
  const PromptConfig c = PromptConfig::from_json(R"({"preset": "qwen3-embedding", "task": "Find shoes"})");
  EXPECT_EQ(c.query_template, "Instruct: {task}\nQuery:{query}");
  EXPECT_EQ(c.task, "Find shoes");
  EXPECT_FALSE(c.think);
  EXPECT_EQ(PromptConfig::from_json(c.to_json()).to_json(), c.to_json());
  // A config without the new fields serialises as before (model fingerprints, and the indexes
  // that record them, stay valid).
  EXPECT_EQ(nlohmann::json::parse(PromptConfig{}.to_json()).size(), 8u);
  EXPECT_THROW(PromptConfig::from_json(R"({"preset": "chatml"})"), FormatError);
  EXPECT_THROW(PromptConfig::from_json(R"({"query_template": "{task}: {query}"})"), FormatError) << "{task} needs a task";
}

TEST(PromptFormat, DirectEmbedderHasNoThinkSection) {
  const Tokenizer tok = Tokenizer::load(kAdded);
  PromptConfig config = PromptConfig::preset("qwen3-embedding");
  config.task = "Find it";
  const PromptFormat format(tok, config);
  EXPECT_EQ(format.think_open_id(), -1);
  EXPECT_EQ(format.emb_id(), tok.piece_to_id("<|endoftext|>"));
  EXPECT_EQ(format.query_prefix(), tok.encode("Instruct: Find it\nQuery:"));
  EXPECT_EQ(format.query_body("red shoes").ids, tok.encode("red shoes")) << "nothing after the query";
  EXPECT_EQ(format.direct_tail(), std::vector<int>{format.emb_id()});
  std::vector<int> item = tok.encode("red shoes");
  item.push_back(format.emb_id());
  EXPECT_EQ(format.item("red shoes").ids, item);
  EXPECT_THROW(format.cot_completion("a cot"), InvalidArgument);
  EXPECT_THROW(format.require_think("reason mode"), InvalidArgument);

  const PromptFormat lrem(tok, PromptConfig{});
  EXPECT_EQ(lrem.direct_tail(), (std::vector<int>{lrem.think_close_id(), lrem.emb_id()}));
  EXPECT_EQ(lrem.query_body("red shoes").ids.back(), lrem.think_open_id());
  EXPECT_NO_THROW(lrem.require_think("reason mode"));
}

}  // namespace
}  // namespace lrem
