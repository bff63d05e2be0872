// LoRA adapters on disk in PEFT's layout: what is saved loads back as the same adapter, the
// config carries PEFT's field names, and what lrem cannot apply is refused by name.
#include "train/adapter.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "lrem/error.h"
#include "test_support.h"
#include "tiny_llama.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace lrem {
namespace {

using testing::TempDir;

Transformer with_adapter(bool tied) {
  Transformer model = testing::tiny_model(testing::tiny_config(false, tied));
  LoraSpec spec;
  spec.r = 2;
  spec.alpha = 4;
  spec.target_modules = {"q_proj", "down_proj"};
  spec.token_ids = {5, 6, 7};
  model.attach_lora(spec, {}, 9);
  return model;
}

TEST(Adapter, SavesAndLoadsInPeftsLayout) {
  for (const bool tied : {true, false}) {
    const Transformer model = with_adapter(tied);
    TempDir dir;
    train::save_adapter(dir.path(), model, "/models/base");
    const train::Adapter loaded = train::load_adapter(dir.path());
    EXPECT_EQ(loaded.base_model, "/models/base");
    EXPECT_EQ(loaded.spec.r, 2);
    EXPECT_EQ(loaded.spec.alpha, 4);
    EXPECT_EQ(loaded.spec.target_modules, model.lora()->target_modules);
    EXPECT_EQ(loaded.spec.token_ids, model.lora()->token_ids);
    ASSERT_EQ(loaded.tensors.size(), model.lora_parameters().size());
    for (const auto& [name, t] : model.lora_parameters()) EXPECT_TRUE(at::equal(t, loaded.tensors.at(name))) << name;
    // 2 layers x 2 modules x (A, B) plus the token rows, once more for an untied head.
    EXPECT_EQ(loaded.tensors.size(), 8u + (tied ? 1 : 2));

    const JsonDocument config = JsonDocument::load(dir.file("adapter_config.json"));
    const JsonValue root = config.object();
    EXPECT_EQ(root.at("peft_type").as_string(), "LORA");
    EXPECT_EQ(root.at("lora_alpha").as_double(), 4);
    EXPECT_EQ(root.at("trainable_token_indices").has("lm_head"), !tied);

    // The loaded adapter reattaches to the same base.
    Transformer again = testing::tiny_model(testing::tiny_config(false, tied));
    again.attach_lora(loaded.spec, loaded.tensors, 0);
    EXPECT_EQ(again.lora_parameters().size(), loaded.tensors.size());
  }
}

TEST(Adapter, RefusesWhatLremCannotApply) {
  TempDir dir;
  train::save_adapter(dir.path(), with_adapter(true), "");
  EXPECT_THROW(train::load_adapter(dir.file("missing")), IoError);
  const std::string config = read_file(dir.file("adapter_config.json"));
  auto rewrite = [&](const std::string& from, const std::string& to) {
    std::string changed = config;
    changed.replace(changed.find(from), from.size(), to);
    write_file_atomic(dir.file("adapter_config.json"), changed);
  };
  rewrite("\"LORA\"", "\"IA3\"");
  EXPECT_THROW(train::load_adapter(dir.path()), FormatError);
  rewrite("\"none\"", "\"all\"");
  EXPECT_THROW(train::load_adapter(dir.path()), FormatError);
  EXPECT_THROW(train::save_adapter(dir.path(), testing::tiny_model(testing::tiny_config()), ""), InvalidArgument);
  // A merge needs to know its base.
  write_file_atomic(dir.file("adapter_config.json"), config);
  EXPECT_THROW(merge_adapter(dir.path(), dir.file("out")), InvalidArgument);
}

}  // namespace
}  // namespace lrem
