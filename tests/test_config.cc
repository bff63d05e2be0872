#include "lrem/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "test_support.h"

namespace lrem {
namespace {

using nlohmann::json;

json minimal_llama() {
  return {{"model_type", "llama"},    {"hidden_size", 64},         {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"vocab_size", 100},         {"intermediate_size", 160}};
}

// Parsing must fail with a FormatError whose message names the source file and `field`.
void expect_field_error(const json& config, const std::string& field) {
  try {
    ModelConfig::from_json(config.dump(), "some/config.json");
    FAIL() << "expected a FormatError about '" << field << "' for " << config.dump();
  } catch (const FormatError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("some/config.json"), std::string::npos) << message;
    EXPECT_NE(message.find(field), std::string::npos) << message;
  }
}

TEST(ModelConfig, ParsesTheStories260KFixture) {
  const std::string dir = testing::fixture("stories260K");
  if (dir.empty()) GTEST_SKIP() << "fixture stories260K absent";
  const ModelConfig c = ModelConfig::load(dir + "/config.json");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.architectures, std::vector<std::string>{"LlamaForCausalLM"});
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_hidden_layers, 5);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.effective_head_dim(), 8);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.pad_token_id, -1);
  EXPECT_EQ(c.torch_dtype, "float32");
  // embed 512*64 + 5 * (q 64*64 + k,v 2*32*64 + o 64*64 + mlp 3*64*172 + norms 2*64) + final norm 64
  EXPECT_EQ(c.num_parameters(), 512 * 64 + 5 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 64 * 172 + 2 * 64) + 64);
}

TEST(ModelConfig, DefaultsFollowHuggingFace) {
  const ModelConfig c = ModelConfig::from_json(minimal_llama().dump());
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 0);
  EXPECT_EQ(c.effective_head_dim(), 16);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"LlamaForCausalLM"});
}

TEST(ModelConfig, ToJsonRoundTrips) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.architectures = {"Qwen2ForCausalLM"};
  c.vocab_size = 300;
  c.hidden_size = 48;
  c.intermediate_size = 96;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 6;
  c.num_key_value_heads = 2;
  c.head_dim = 12;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  c.bos_token_id = -1;
  c.eos_token_id = 7;
  c.pad_token_id = 9;
  c.torch_dtype = "bfloat16";

  const std::string text = c.to_json();
  const json j = json::parse(text);
  EXPECT_EQ(j.at("hidden_act"), "silu");
  EXPECT_TRUE(j.at("rope_scaling").is_null());
  EXPECT_TRUE(j.at("bos_token_id").is_null());

  const ModelConfig r = ModelConfig::from_json(text);
  EXPECT_EQ(r.model_type, c.model_type);
  EXPECT_EQ(r.architectures, c.architectures);
  EXPECT_EQ(r.vocab_size, c.vocab_size);
  EXPECT_EQ(r.hidden_size, c.hidden_size);
  EXPECT_EQ(r.intermediate_size, c.intermediate_size);
  EXPECT_EQ(r.num_hidden_layers, c.num_hidden_layers);
  EXPECT_EQ(r.num_attention_heads, c.num_attention_heads);
  EXPECT_EQ(r.num_key_value_heads, c.num_key_value_heads);
  EXPECT_EQ(r.head_dim, c.head_dim);
  EXPECT_EQ(r.max_position_embeddings, c.max_position_embeddings);
  EXPECT_EQ(r.rms_norm_eps, c.rms_norm_eps);
  EXPECT_EQ(r.rope_theta, c.rope_theta);
  EXPECT_EQ(r.attention_bias, c.attention_bias);
  EXPECT_EQ(r.tie_word_embeddings, c.tie_word_embeddings);
  EXPECT_EQ(r.bos_token_id, c.bos_token_id);
  EXPECT_EQ(r.eos_token_id, c.eos_token_id);
  EXPECT_EQ(r.pad_token_id, c.pad_token_id);
  EXPECT_EQ(r.torch_dtype, c.torch_dtype);
  EXPECT_EQ(r.num_parameters(), c.num_parameters());
}

TEST(ModelConfig, Qwen2AlwaysHasQkvBias) {
  json j = minimal_llama();
  j["model_type"] = "qwen2";
  const ModelConfig c = ModelConfig::from_json(j.dump());
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.has_qk_norm());
  EXPECT_EQ(c.architectures, std::vector<std::string>{"Qwen2ForCausalLM"});
  // HF's Qwen2Attention hard-codes bias=True whatever the field says.
  j["attention_bias"] = false;
  EXPECT_TRUE(ModelConfig::from_json(j.dump()).attention_bias);
  // Biases add (q + 2 kv) parameters per layer.
  ModelConfig no_bias = c;
  no_bias.attention_bias = false;
  EXPECT_EQ(c.num_parameters() - no_bias.num_parameters(), 2 * (64 + 2 * 64));
}

TEST(ModelConfig, Qwen3HasQkNormAndItsOwnHeadDim) {
  json j = minimal_llama();
  j["model_type"] = "qwen3";
  j["head_dim"] = 32;  // not hidden_size / num_attention_heads (16)
  j["num_key_value_heads"] = 2;
  j["rope_theta"] = 1000000.0;
  const ModelConfig c = ModelConfig::from_json(j.dump());
  EXPECT_TRUE(c.has_qk_norm());
  EXPECT_FALSE(c.attention_bias);
  EXPECT_EQ(c.effective_head_dim(), 32);
  EXPECT_EQ(c.architectures, std::vector<std::string>{"Qwen3ForCausalLM"});
  // embed + per layer (q 64x128, k/v 2x 64x64, o 128x64, mlp, 2 norms, q/k norms 2x32) + final norm
  EXPECT_EQ(c.num_parameters(),
            100 * 64 * 2 + 2 * (64 * 128 + 2 * 64 * 64 + 128 * 64 + 3 * 64 * 160 + 2 * 64 + 2 * 32) + 64);
  // Transformers' Qwen3Config defaults head_dim to 128, not hidden_size / heads.
  j.erase("head_dim");
  EXPECT_EQ(ModelConfig::from_json(j.dump()).effective_head_dim(), 128);
  // Qwen3's attention_bias would bias o_proj as well.
  j["attention_bias"] = true;
  expect_field_error(j, "attention_bias");
}

TEST(ModelConfig, RopeScalingLlama3AndLinear) {
  json j = minimal_llama();
  j["rope_theta"] = 500000.0;
  j["max_position_embeddings"] = 131072;
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  ModelConfig c = ModelConfig::from_json(j.dump());
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);

  // Older configs spell rope_type "type".
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c = ModelConfig::from_json(j.dump());
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 2.0);

  j["rope_scaling"] = {{"rope_type", "default"}};
  EXPECT_EQ(ModelConfig::from_json(j.dump()).rope_scaling.type, "default");

  // Newer transformers put rope_theta and the scaling into rope_parameters.
  j.erase("rope_scaling");
  j["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 1000000.0}};
  c = ModelConfig::from_json(j.dump());
  EXPECT_EQ(c.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1000000.0);
}

TEST(ModelConfig, UnsupportedRopeScalingIsNamed) {
  for (const char* type : {"yarn", "dynamic", "longrope", "ntk"}) {
    json j = minimal_llama();
    j["rope_scaling"] = {{"rope_type", type}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
    expect_field_error(j, "rope_scaling");
    expect_field_error(j, type);
  }
  json j = minimal_llama();
  j["rope_scaling"] = {{"factor", 4.0}};  // no type at all
  expect_field_error(j, "rope_scaling");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
  expect_field_error(j, "original_max_position_embeddings");
  j["rope_scaling"]["original_max_position_embeddings"] = 8192;
  j["rope_scaling"]["high_freq_factor"] = 1.0;  // the ramp would divide by zero
  expect_field_error(j, "rope_scaling");
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 0.0}};
  expect_field_error(j, "rope_scaling");
}

TEST(ModelConfig, MixturesOfExpertsAreRefused) {
  for (const char* type : {"mixtral", "qwen2_moe", "qwen3_moe"}) {
    json j = minimal_llama();
    j["model_type"] = type;
    expect_field_error(j, "model_type");
    expect_field_error(j, "mixture of experts");
  }
  for (const char* field : {"num_experts", "num_local_experts"}) {
    json j = minimal_llama();
    j["model_type"] = "qwen2";
    j[field] = 8;
    expect_field_error(j, field);
  }
}

TEST(ModelConfig, QwenSlidingWindowLayersAreRefused) {
  for (const char* type : {"qwen2", "qwen3"}) {
    json j = minimal_llama();
    j["model_type"] = type;
    j["sliding_window"] = 4096;  // ignored while use_sliding_window is false, as in released configs
    j["max_window_layers"] = 28;
    j["use_sliding_window"] = false;
    EXPECT_EQ(ModelConfig::from_json(j.dump()).max_positions(), 2048);
    j["use_sliding_window"] = true;
    expect_field_error(j, "use_sliding_window");
    j["use_sliding_window"] = false;
    j["layer_types"] = {"full_attention", "sliding_attention"};
    expect_field_error(j, "sliding_attention");
  }
}

TEST(ModelConfig, MistralSlidingWindowLimitsPositions) {
  json j = minimal_llama();
  j["model_type"] = "mistral";
  j["max_position_embeddings"] = 32768;
  j["sliding_window"] = 4096;
  ModelConfig c = ModelConfig::from_json(j.dump());
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_EQ(c.max_positions(), 4096);
  // Absent means transformers' MistralConfig default of 4096; null means no window.
  j.erase("sliding_window");
  EXPECT_EQ(ModelConfig::from_json(j.dump()).max_positions(), 4096);
  j["sliding_window"] = nullptr;
  EXPECT_EQ(ModelConfig::from_json(j.dump()).max_positions(), 32768);
  // Llama has no sliding window: the field is ignored.
  j["model_type"] = "llama";
  j["sliding_window"] = 4096;
  EXPECT_EQ(ModelConfig::from_json(j.dump()).max_positions(), 32768);
}

TEST(ModelConfig, NewFieldsRoundTrip) {
  json j = minimal_llama();
  j["model_type"] = "qwen3";
  j["head_dim"] = 24;
  j["rope_scaling"] = {{"type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  const ModelConfig c = ModelConfig::from_json(j.dump());
  const ModelConfig r = ModelConfig::from_json(c.to_json());
  EXPECT_EQ(r.model_type, "qwen3");
  EXPECT_EQ(r.effective_head_dim(), 24);
  EXPECT_EQ(r.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(r.rope_scaling.factor, 8.0);
  EXPECT_EQ(r.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(r.num_parameters(), c.num_parameters());
  EXPECT_EQ(r.to_json(), c.to_json());

  for (const json window : {json(nullptr), json(1024)}) {
    json m = minimal_llama();
    m["model_type"] = "mistral";
    m["sliding_window"] = window;
    const ModelConfig mistral = ModelConfig::from_json(m.dump());
    EXPECT_EQ(ModelConfig::from_json(mistral.to_json()).sliding_window, mistral.sliding_window) << window;
  }
}

TEST(ModelConfig, MistralAndListEosAndIgnoredFields) {
  json j = minimal_llama();
  j["model_type"] = "mistral";
  j["num_key_value_heads"] = 2;
  j["eos_token_id"] = {5, 6};
  j["sliding_window"] = 4096;
  j["some_future_field"] = {{"x", 1}};
  const ModelConfig c = ModelConfig::from_json(j.dump());
  EXPECT_EQ(c.model_type, "mistral");
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.eos_token_id, 5);
}

TEST(ModelConfig, MalformedJsonNamesTheFile) {
  try {
    ModelConfig::from_json("{\"hidden_size\": 64,", "some/config.json");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("some/config.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ModelConfig::from_json("[1, 2]"), FormatError);
}

TEST(ModelConfig, MissingRequiredFieldIsNamed) {
  for (const char* field : {"hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                            "intermediate_size", "model_type"}) {
    json j = minimal_llama();
    j.erase(field);
    expect_field_error(j, field);
  }
}

TEST(ModelConfig, WrongTypeIsNamed) {
  json j = minimal_llama();
  j["hidden_size"] = "64";
  expect_field_error(j, "hidden_size");
  j = minimal_llama();
  j["tie_word_embeddings"] = 1;
  expect_field_error(j, "tie_word_embeddings");
  j = minimal_llama();
  j["rms_norm_eps"] = "tiny";
  expect_field_error(j, "rms_norm_eps");
  j = minimal_llama();
  j["vocab_size"] = 100.5;
  expect_field_error(j, "vocab_size");
}

TEST(ModelConfig, BadHeadDivisionIsNamed) {
  json j = minimal_llama();
  j["num_attention_heads"] = 6;  // does not divide 64
  expect_field_error(j, "num_attention_heads");
  j = minimal_llama();
  j["num_key_value_heads"] = 3;  // does not divide 4
  expect_field_error(j, "num_key_value_heads");
  j = minimal_llama();
  j["hidden_size"] = -64;
  expect_field_error(j, "hidden_size");
}

TEST(ModelConfig, UnsupportedFeaturesAreNamed) {
  json j = minimal_llama();
  j["hidden_act"] = "gelu";
  expect_field_error(j, "hidden_act");
  j = minimal_llama();
  j["model_type"] = "gpt2";
  expect_field_error(j, "model_type");
  j = minimal_llama();
  j["attention_bias"] = true;  // Llama would bias o_proj too
  expect_field_error(j, "attention_bias");
  j = minimal_llama();
  j["rope_scaling"] = nullptr;  // explicit null is plain RoPE
  EXPECT_NO_THROW(ModelConfig::from_json(j.dump()));
}

TEST(ModelConfig, LoadNamesAMissingFile) {
  testing::TempDir tmp;
  EXPECT_THROW(ModelConfig::load(tmp.file("config.json")), IoError);
  std::ofstream(tmp.file("config.json")) << "{}";
  try {
    ModelConfig::load(tmp.file("config.json"));
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(tmp.file("config.json")), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lrem
