#include "test_support.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <system_error>

#include "lrem/runtime.h"
#include "lrem/train.h"

namespace fs = std::filesystem;

namespace lrem::testing {

std::vector<float> random_vectors(int64_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(size_t(n) * dim);
  for (auto& x : v) x = normal(rng);
  return v;
}

namespace {

// ctest runs two test processes at once on the 2-core machines: one compute thread each.
class OneComputeThread : public ::testing::Environment {
  void SetUp() override { set_num_threads(1); }
};
const ::testing::Environment* const kOneComputeThread = ::testing::AddGlobalTestEnvironment(new OneComputeThread);

}  // namespace

std::string fixtures_dir() {
  if (const char* env = std::getenv("LREM_FIXTURES_DIR"); env && *env) return env;
  return LREM_FIXTURES_DIR;
}

std::string fixture(const std::string& name) {
  fs::path p = fs::path(fixtures_dir()) / name;
  if (fs::exists(p)) return p.string();
  std::cerr << "\n*** SKIP: fixture '" << name << "' not found at " << p
            << " (set LREM_FIXTURES_DIR to the directory holding it) ***\n\n";
  return "";
}

ModelConfig tiny_training_architecture() {
  ModelConfig c = PretrainConfig::small_model();
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  return c;
}

Model small_lrem_model(const std::string& tokenizer_dir, uint64_t seed, const std::string& query_template,
                       int max_cot_tokens) {
  Tokenizer tok = Tokenizer::from_directory(tokenizer_dir);
  ModelConfig c;
  c.vocab_size = tok.vocab_size();
  c.hidden_size = 48;
  c.intermediate_size = 96;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 256;
  c.tie_word_embeddings = true;
  const Model m = Model::random(c, tok, seed).with_lrem_tokens();
  PromptConfig p = m.prompt_config();
  p.query_template = query_template;
  p.item_template = "product: {title}";
  p.max_cot_tokens = max_cot_tokens;
  return m.with_prompt_config(p);
}

SftConfig quick_sft(const std::string& model, const std::string& data, const std::string& output_dir, int64_t steps,
                    double lr) {
  SftConfig c;
  c.model = model;
  c.data = data;
  c.output_dir = output_dir;
  c.max_steps = steps;
  c.lr = lr;
  c.num_threads = 1;
  c.quiet = true;
  return c;
}

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    fs::path p = fs::temp_directory_path() / ("lrem-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p.string();
      return;
    }
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace lrem::testing
