#include "model/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "lrem/safetensors.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace lrem {
namespace {

// A small GQA config with q/k/v biases (so the optional tensors are exercised too).
ModelConfig tiny_config(bool tied) {
  ModelConfig c;
  c.model_type = "qwen2";
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.attention_bias = true;
  c.tie_word_embeddings = tied;
  return c;
}

std::map<std::string, at::Tensor> random_tensors(const ModelConfig& config, uint64_t seed) {
  at::manual_seed(seed);
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, shape] : llama_parameter_shapes(config)) out[name] = at::randn(shape);
  return out;
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

void expect_same_tensors(const std::map<std::string, at::Tensor>& expected, const std::map<std::string, at::Tensor>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (const auto& [name, tensor] : expected) {
    auto it = actual.find(name);
    ASSERT_NE(it, actual.end()) << name;
    EXPECT_TRUE(bitwise_equal(tensor, it->second)) << name;
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void expect_format_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    FAIL() << "expected a FormatError";
  } catch (const FormatError& e) {
    for (const std::string& needle : needles) EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, LoadsAndValidatesTheStories260KFixture) {
  const std::string dir = testing::fixture("stories260K");
  if (dir.empty()) GTEST_SKIP() << "fixture stories260K absent";
  const std::string path = dir + "/model.safetensors";
  ASSERT_EQ(fs::file_size(path), 1044984u);
  const ModelConfig config = ModelConfig::load(dir + "/config.json");

  auto tensors = load_checkpoint_tensors(dir);
  EXPECT_NO_THROW(validate_parameters(tensors, config, dir));
  EXPECT_EQ(tensors.count("lm_head.weight"), 0u);  // tied
  EXPECT_EQ(tensors.at("model.layers.0.self_attn.q_proj.weight").sizes(), at::IntArrayRef({64, 64}));
  EXPECT_EQ(tensors.at("model.layers.4.self_attn.k_proj.weight").sizes(), at::IntArrayRef({32, 64}));  // GQA
  EXPECT_EQ(tensors.at("model.layers.4.self_attn.v_proj.weight").sizes(), at::IntArrayRef({32, 64}));
  EXPECT_EQ(tensors.at("model.layers.2.mlp.down_proj.weight").sizes(), at::IntArrayRef({64, 172}));

  // Every byte of the data section arrives unchanged in some tensor.
  const SafetensorsFile file(path);
  size_t total = 0;
  for (const TensorInfo& info : file.header().tensors) {
    const at::Tensor& t = tensors.at(info.name);
    EXPECT_EQ(t.scalar_type(), at::kFloat);
    EXPECT_EQ(std::memcmp(t.data_ptr(), file.data(info), info.nbytes()), 0) << info.name;
    total += t.nbytes();
  }
  EXPECT_EQ(file.header().data_offset + total, 1044984u);
}

TEST(Checkpoint, ParameterShapesFollowTheConfig) {
  const auto untied = llama_parameter_shapes(tiny_config(false));
  EXPECT_EQ(untied.size(), 1 + 2 * 12 + 1 + 1u);
  EXPECT_EQ(untied.at("lm_head.weight"), (std::vector<int64_t>{40, 16}));
  EXPECT_EQ(untied.at("model.layers.1.self_attn.k_proj.bias"), (std::vector<int64_t>{8}));
  EXPECT_EQ(untied.at("model.layers.1.self_attn.o_proj.weight"), (std::vector<int64_t>{16, 16}));
  EXPECT_EQ(untied.at("model.layers.0.mlp.up_proj.weight"), (std::vector<int64_t>{24, 16}));
  ModelConfig no_bias = tiny_config(true);
  no_bias.attention_bias = false;
  EXPECT_EQ(llama_parameter_shapes(no_bias).size(), 1 + 2 * 9 + 1u);
}

TEST(Checkpoint, ValidationNamesMissingUnexpectedAndMisshapedTensors) {
  const ModelConfig config = tiny_config(false);
  const auto good = random_tensors(config, 1);

  auto missing = good;
  missing.erase("model.layers.1.mlp.gate_proj.weight");
  expect_format_error([&] { validate_parameters(missing, config, "ckpt-dir"); },
                      {"ckpt-dir", "missing", "model.layers.1.mlp.gate_proj.weight"});

  auto unexpected = good;
  unexpected["model.layers.7.mlp.gate_proj.weight"] = at::zeros({24, 16});
  expect_format_error([&] { validate_parameters(unexpected, config, "ckpt-dir"); },
                      {"ckpt-dir", "unexpected", "model.layers.7.mlp.gate_proj.weight"});

  auto misshaped = good;
  misshaped["model.layers.0.self_attn.v_proj.weight"] = at::zeros({16, 16});
  expect_format_error([&] { validate_parameters(misshaped, config, "ckpt-dir"); },
                      {"ckpt-dir", "model.layers.0.self_attn.v_proj.weight", "[16, 16]", "[8, 16]"});

  auto fine = good;
  EXPECT_NO_THROW(validate_parameters(fine, config, "ckpt-dir"));
  EXPECT_EQ(fine.size(), good.size());
}

TEST(Checkpoint, TiedCheckpointMayCarryAnIdenticalLmHead) {
  const ModelConfig config = tiny_config(true);
  auto tensors = random_tensors(config, 2);
  tensors["lm_head.weight"] = tensors.at("model.embed_tokens.weight").clone();
  validate_parameters(tensors, config, "tied");
  EXPECT_EQ(tensors.count("lm_head.weight"), 0u);

  tensors["lm_head.weight"] = at::randn({40, 16});
  expect_format_error([&] { validate_parameters(tensors, config, "tied"); }, {"tied", "lm_head.weight"});
}

TEST(Checkpoint, SaveLoadRoundTripsBitForBit) {
  testing::TempDir tmp;
  auto tensors = random_tensors(tiny_config(false), 3);
  tensors["step"] = at::tensor({int64_t(12345)});  // integer tensors keep their type
  save_checkpoint_tensors(tmp.path(), tensors);
  EXPECT_TRUE(fs::exists(tmp.file("model.safetensors")));
  EXPECT_FALSE(fs::exists(tmp.file("model.safetensors.index.json")));
  EXPECT_EQ(SafetensorsFile(tmp.file("model.safetensors")).header().metadata.at("format"), "pt");
  expect_same_tensors(tensors, load_checkpoint_tensors(tmp.path()));
}

TEST(Checkpoint, ShardedSaveLoadRoundTripsBitForBit) {
  testing::TempDir tmp;
  const auto tensors = random_tensors(tiny_config(false), 4);
  save_checkpoint_tensors(tmp.path(), tensors, at::kFloat, /*max_shard_bytes=*/3000);

  const auto index = nlohmann::json::parse(read_bytes(tmp.file("model.safetensors.index.json")));
  std::set<std::string> shards;
  size_t total = 0;
  for (const auto& [name, shard] : index.at("weight_map").items()) {
    shards.insert(shard.get<std::string>());
    total += tensors.at(name).nbytes();
  }
  EXPECT_EQ(index.at("weight_map").size(), tensors.size());
  EXPECT_EQ(index.at("metadata").at("total_size").get<size_t>(), total);
  EXPECT_GT(shards.size(), 2u);
  for (const std::string& shard : shards) {
    EXPECT_TRUE(fs::exists(tmp.file(shard))) << shard;
    // Only a lone oversized tensor may exceed the limit.
    const SafetensorsFile file(tmp.file(shard));
    size_t bytes = 0;
    for (const TensorInfo& t : file.header().tensors) bytes += t.nbytes();
    EXPECT_TRUE(bytes <= 3000 || file.header().tensors.size() == 1) << shard;
  }
  EXPECT_FALSE(fs::exists(tmp.file("model.safetensors")));
  expect_same_tensors(tensors, load_checkpoint_tensors(tmp.path()));

  // Saving a single file over the sharded layout removes the index and shards.
  save_checkpoint_tensors(tmp.path(), tensors);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
  expect_same_tensors(tensors, load_checkpoint_tensors(tmp.path()));
}

TEST(Checkpoint, HalfPrecisionSavesConvertAsExpected) {
  for (const auto& [save_dtype, file_dtype] : {std::pair{at::kHalf, DType::F16}, std::pair{at::kBFloat16, DType::BF16}}) {
    testing::TempDir tmp;
    const std::map<std::string, at::Tensor> tensors = {{"w", at::randn({5, 7}) * 100}, {"b", at::randn({7})}};
    save_checkpoint_tensors(tmp.path(), tensors, save_dtype);
    const SafetensorsFile file(tmp.file("model.safetensors"));
    EXPECT_EQ(file.header().find("w")->dtype, file_dtype);
    EXPECT_EQ(fs::file_size(tmp.file("model.safetensors")), file.header().data_offset + 2 * (35 + 7));

    const auto loaded = load_checkpoint_tensors(tmp.path());  // converted to float32
    for (const auto& [name, t] : tensors) {
      const at::Tensor expected = t.to(save_dtype).to(at::kFloat);
      EXPECT_TRUE(bitwise_equal(expected, loaded.at(name))) << name;
      EXPECT_FALSE(at::equal(t, loaded.at(name))) << "rounding must have happened for " << name;
    }
    const auto native = load_checkpoint_tensors(tmp.path(), save_dtype);
    EXPECT_TRUE(bitwise_equal(tensors.at("w").to(save_dtype), native.at("w")));
  }
}

TEST(CheckpointReader, Float32ChunksAreTheWholeTensorInOrder) {
  testing::TempDir tmp;
  const at::Tensor w = at::randn({13, 11});
  save_checkpoint_tensors(tmp.path(), {{"w", w}, {"step", at::tensor({int64_t(3)})}}, at::kBFloat16);
  const CheckpointReader checkpoint(tmp.path());
  std::vector<at::Tensor> chunks;
  checkpoint.read_float32_chunks("w", [&](const at::Tensor& chunk) { chunks.push_back(chunk.clone()); }, 7);
  ASSERT_EQ(chunks.size(), 21u);  // 143 values in chunks of at most 7
  for (const at::Tensor& chunk : chunks) EXPECT_EQ(chunk.scalar_type(), at::kFloat);
  EXPECT_TRUE(bitwise_equal(at::cat(chunks).view({13, 11}), w.to(at::kBFloat16).to(at::kFloat)));
  EXPECT_TRUE(bitwise_equal(checkpoint.read("w", at::kFloat), w.to(at::kBFloat16).to(at::kFloat)));
  EXPECT_TRUE(bitwise_equal(checkpoint.read("w", at::kBFloat16), w.to(at::kBFloat16)));
  // Reading twice gives the same values: dropped pages come back from the file.
  EXPECT_TRUE(bitwise_equal(checkpoint.read("w", at::kBFloat16), w.to(at::kBFloat16)));
  EXPECT_THROW(checkpoint.read_float32_chunks("step", [](const at::Tensor&) {}), InvalidArgument);
  EXPECT_THROW(checkpoint.read("absent", at::kFloat), InvalidArgument);
}

TEST(CheckpointReader, ReadsTensorsAtUnalignedOffsets) {
  // A 3-byte U8 tensor sorts first, so the F32 and BF16 data after it start at odd offsets
  // (the format does not promise alignment).
  testing::TempDir tmp;
  const std::vector<uint8_t> flags = {1, 2, 3};
  const at::Tensor f = at::randn({5}), h = at::randn({4}).to(at::kBFloat16);
  write_safetensors(tmp.file("model.safetensors"),
                    {{"a_flags", DType::U8, {3}, flags.data(), 3},
                     {"b_f32", DType::F32, {5}, f.data_ptr(), f.nbytes()},
                     {"c_bf16", DType::BF16, {4}, h.data_ptr(), h.nbytes()}});
  const SafetensorsFile file(tmp.file("model.safetensors"));
  ASSERT_NE(reinterpret_cast<uintptr_t>(file.data(*file.header().find("b_f32"))) % 4, 0u);
  const uint8_t* data = file.data(*file.header().find("a_flags"));
  EXPECT_THROW(file.drop_pages(data, size_t(1) << 30), InvalidArgument);  // past the end of the mapping
  file.drop_pages(data, 3);
  EXPECT_EQ(data[2], 3);  // still readable after its pages were dropped
  const CheckpointReader checkpoint(tmp.path());
  EXPECT_TRUE(bitwise_equal(checkpoint.read("b_f32", at::kFloat), f));
  EXPECT_TRUE(bitwise_equal(checkpoint.read("c_bf16", at::kBFloat16), h));
  EXPECT_TRUE(bitwise_equal(checkpoint.read("c_bf16", at::kFloat), h.to(at::kFloat)));
  EXPECT_TRUE(bitwise_equal(checkpoint.read("a_flags", at::kFloat), at::tensor({1, 2, 3}, at::kByte)));
  std::vector<at::Tensor> chunks;
  checkpoint.read_float32_chunks("c_bf16", [&](const at::Tensor& chunk) { chunks.push_back(chunk.clone()); }, 3);
  EXPECT_TRUE(bitwise_equal(at::cat(chunks), h.to(at::kFloat)));
}

// A two-shard checkpoint whose index the test then corrupts.
struct ShardedFixture {
  testing::TempDir tmp;
  nlohmann::json index;
  ShardedFixture() {
    save_checkpoint_tensors(tmp.path(), {{"a", at::randn({64})}, {"b", at::randn({64})}}, at::kFloat, 300);
    index = nlohmann::json::parse(read_bytes(tmp.file("model.safetensors.index.json")));
  }
  void write_index() const {
    std::ofstream(tmp.file("model.safetensors.index.json")) << index.dump();
  }
};

TEST(Checkpoint, IndexNamingAMissingShard) {
  ShardedFixture f;
  f.index["weight_map"]["b"] = "model-00009-of-00009.safetensors";
  f.write_index();
  expect_format_error([&] { load_checkpoint_tensors(f.tmp.path()); },
                      {"model.safetensors.index.json", "model-00009-of-00009.safetensors", "does not exist"});
}

TEST(Checkpoint, IndexEscapingTheDirectory) {
  for (const char* shard : {"../model-00001-of-00002.safetensors", "/etc/passwd", "sub/x.safetensors", ".."}) {
    ShardedFixture f;
    f.index["weight_map"]["a"] = shard;
    f.write_index();
    expect_format_error([&] { load_checkpoint_tensors(f.tmp.path()); },
                        {"model.safetensors.index.json", "'a'", shard, "plain file name"});
  }
}

TEST(Checkpoint, IndexListsATensorItsShardLacks) {
  ShardedFixture f;
  const std::string shard_b = f.index["weight_map"]["b"];
  ASSERT_NE(f.index["weight_map"]["a"], shard_b);
  f.index["weight_map"]["a"] = shard_b;
  f.write_index();
  expect_format_error([&] { load_checkpoint_tensors(f.tmp.path()); }, {"'a'", shard_b, "does not contain"});
}

TEST(Checkpoint, TensorInTwoShards) {
  ShardedFixture f;
  const float values[64] = {};
  write_safetensors(f.tmp.file("extra.safetensors"),
                    {{"a", DType::F32, {64}, values, sizeof values}, {"c", DType::F32, {64}, values, sizeof values}});
  f.index["weight_map"]["c"] = "extra.safetensors";
  f.write_index();
  expect_format_error([&] { load_checkpoint_tensors(f.tmp.path()); }, {"extra.safetensors", "'a'", "exactly one shard"});
}

TEST(Checkpoint, MissingCheckpointIsAnIoError) {
  testing::TempDir tmp;
  EXPECT_THROW(load_checkpoint_tensors(tmp.path()), IoError);
}

TEST(Checkpoint, RejectedSaveLeavesTheOldCheckpoint) {
  testing::TempDir tmp;
  const auto old = random_tensors(tiny_config(true), 5);
  save_checkpoint_tensors(tmp.path(), old);
  const std::string before = read_bytes(tmp.file("model.safetensors"));

  auto broken = random_tensors(tiny_config(true), 6);
  broken["model.norm.weight"] = at::Tensor();
  EXPECT_THROW(save_checkpoint_tensors(tmp.path(), broken), InvalidArgument);
  EXPECT_EQ(read_bytes(tmp.file("model.safetensors")), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
}

// Makes writes beyond `bytes` fail (EFBIG) for the test's duration; works even as root.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit previous_;
  void (*previous_handler_)(int);
};

TEST(Checkpoint, SaveFailingMidwayLeavesTheOldCheckpoint) {
  testing::TempDir tmp;
  const auto old = random_tensors(tiny_config(false), 7);
  save_checkpoint_tensors(tmp.path(), old);
  const std::string before = read_bytes(tmp.file("model.safetensors"));
  auto replacement = random_tensors(tiny_config(false), 8);
  replacement["zz.large"] = at::randn({2048});  // 8 KiB, last in name order
  {
    FileSizeLimit limit(4096);
    EXPECT_THROW(save_checkpoint_tensors(tmp.path(), replacement), IoError);
    // Sharded: the early shards fit under the limit, the last does not, so no index appears.
    EXPECT_THROW(save_checkpoint_tensors(tmp.path(), replacement, at::kFloat, 3000), IoError);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1)
      << "a failed save must not leave partial files";
  EXPECT_EQ(read_bytes(tmp.file("model.safetensors")), before);
  expect_same_tensors(old, load_checkpoint_tensors(tmp.path()));
}

}  // namespace
}  // namespace lrem
