// The training stages end to end on a toy world (tiny tokenizer and Llama, seconds each):
// pretraining lowers the LM loss, stage 1 lowers both its losses, GRPO raises the accuracy
// reward, resume continues bit for bit, and two data-parallel processes agree with one.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <tuple>
#include <sys/wait.h>
#include <unistd.h>

#include "model/checkpoint.h"
#include "util/file_io.h"
#include "util/json_reader.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/train.h"
#include "test_support.h"
#include "train/trainer.h"

namespace lrem {
namespace {

namespace fs = std::filesystem;
using lrem::testing::TempDir;

// Eight objects, each needed for one activity; a title is colour + object. The CoT that leads
// from an activity to its item is the object's name.
const std::vector<std::string> kObjects = {"shoe", "hat", "cup", "lamp", "bag", "sock", "pen", "bowl"};
const std::vector<std::string> kNeeds = {"walk outside", "cover my head", "drink tea", "light the room",
                                         "carry books", "warm my feet", "write notes", "eat soup"};
const std::vector<std::string> kColours = {"red", "blue", "green", "black"};

std::string title(size_t object) { return kColours[object % kColours.size()] + " " + kObjects[object]; }

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const auto& l : lines) out << l << "\n";
}

std::string json_string(const std::string& s) { return "\"" + s + "\""; }

struct Toy {
  std::unique_ptr<TempDir> dir = std::make_unique<TempDir>();
  std::string corpus, triplets, pairs, pretrained, stage1;
};

Toy* toy = nullptr;

PretrainConfig tiny_pretrain(const std::string& corpus, const std::string& output_dir, int64_t steps) {
  PretrainConfig c;
  c.output_dir = output_dir;
  c.corpus = corpus;
  c.vocab_size = 320;
  c.model = testing::tiny_training_architecture();
  c.seq_len = 32;
  c.batch_size = 8;
  c.max_steps = steps;
  c.lr = 3e-3;
  c.log_every = 1;
  c.num_threads = 1;
  c.quiet = true;
  c.seed = 7;
  return c;
}

// One of two ranks whose global batches equal tiny_pretrain's with batch 4 and grad_accum 2.
PretrainConfig data_parallel_config(const std::string& corpus, const std::string& tokenizer, const std::string& out,
                                    int port, int rank) {
  PretrainConfig c = tiny_pretrain(corpus, rank == 0 ? out : out + "/rank1", 4);
  c.tokenizer = tokenizer;
  c.batch_size = 4;
  c.world_size = 2;
  c.rank = rank;
  c.master_port = port;
  return c;
}

class TrainLoops : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    toy = new Toy;
    const std::string d = toy->dir->path();
    std::vector<std::string> corpus, triplets, pairs;
    for (int round = 0; round < 6; ++round) {
      for (size_t i = 0; i < kObjects.size(); ++i) {
        const std::string colour = kColours[(i + round) % kColours.size()];
        corpus.push_back("to " + kNeeds[i] + " you use a " + kObjects[i] + ".");
        corpus.push_back("the " + colour + " " + kObjects[i] + " is here, so i can " + kNeeds[i] + ".");
        corpus.push_back("a " + title(i) + " and a " + title((i + round + 1) % kObjects.size()) + ".");
      }
    }
    for (size_t i = 0; i < kObjects.size(); ++i) {
      for (const std::string& ask : {"i want to ", "something to ", "help me "}) {
        triplets.push_back("{\"query\": " + json_string(ask + kNeeds[i]) + ", \"cot\": " + json_string(kObjects[i]) +
                           ", \"item\": " + json_string(title(i)) + "}");
        pairs.push_back("{\"query\": " + json_string(ask + kNeeds[i]) + ", \"item\": " + json_string(title(i)) + "}");
      }
    }
    toy->corpus = d + "/corpus.txt";
    toy->triplets = d + "/triplets.jsonl";
    toy->pairs = d + "/pairs.jsonl";
    write_lines(toy->corpus, corpus);
    write_lines(toy->triplets, triplets);
    write_lines(toy->pairs, pairs);
    toy->pretrained = d + "/pretrained";
    pretrain(tiny_pretrain(toy->corpus, toy->pretrained, 60));
  }
  static void TearDownTestSuite() {
    delete toy;
    toy = nullptr;
  }
};

std::map<std::string, at::Tensor> weights(const std::string& dir) { return load_checkpoint_tensors(dir); }

// Mean of a metric over the first and the last `n` progress reports.
std::pair<double, double> first_last(const std::vector<TrainProgress>& reports, const std::string& key, size_t n) {
  EXPECT_GE(reports.size(), 2 * n);
  double first = 0, last = 0;
  for (size_t i = 0; i < n; ++i) {
    first += reports[i].metrics.at(key) / double(n);
    last += reports[reports.size() - 1 - i].metrics.at(key) / double(n);
  }
  return {first, last};
}

TEST_F(TrainLoops, PretrainingLowersTheLanguageModelLoss) {
  // The suite's setup pretrained 60 steps; its metrics log tells the story.
  std::ifstream in(toy->pretrained + "/metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("\"loss\":");
    ASSERT_NE(at, std::string::npos) << line;
    losses.push_back(std::stod(line.substr(at + 7)));
  }
  ASSERT_EQ(losses.size(), 60u);
  const double first = (losses[0] + losses[1] + losses[2]) / 3, last = (losses[57] + losses[58] + losses[59]) / 3;
  EXPECT_LT(last, 0.6 * first) << "first " << first << " last " << last;
  // The result is an ordinary Hugging Face model with the LREM tokens.
  const Model model = Model::load(toy->pretrained);
  EXPECT_EQ(model.config().hidden_size, 32);
  EXPECT_GE(model.tokenizer().piece_to_id("<emb>"), 0);
  EXPECT_EQ(model.config().vocab_size, model.tokenizer().vocab_size());
}

TEST_F(TrainLoops, StageOneLowersBothLosses) {
  TempDir out;
  SftConfig c = testing::quick_sft(toy->pretrained, toy->triplets, out.path(), 60, 3e-3);
  c.log_every = 1;
  std::vector<TrainProgress> reports;
  c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  const TrainResult r = sft(c);
  EXPECT_EQ(r.steps, 60);
  ASSERT_EQ(reports.size(), 60u);
  // With the paper's weights (0.1 SFT, 1.0 InfoNCE) the contrastive term moves fastest.
  const auto [sft0, sft1] = first_last(reports, "sft_loss", 5);
  const auto [nce0, nce1] = first_last(reports, "nce_loss", 5);
  EXPECT_LT(sft1, 0.8 * sft0) << sft0 << " -> " << sft1;
  EXPECT_LT(nce1, 0.5 * nce0) << nce0 << " -> " << nce1;
  EXPECT_TRUE(fs::exists(out.file("model.safetensors")));
  EXPECT_TRUE(fs::exists(out.file("checkpoint-60/optimizer.safetensors")));
}

// The stage-1 model GRPO starts from, trained once for the suite; its CoT cap (the model's
// lrem_config.json, which GRPO and inference read) is 4 tokens.
const std::string& stage1_model() {
  if (toy->stage1.empty()) {
    SftConfig s = testing::quick_sft(toy->pretrained, toy->triplets, toy->dir->file("stage1"), 100, 3e-3);
    s.lambda_sft = 1.0;
    sft(s);
    PromptConfig prompt = PromptConfig::load_or_default(s.output_dir);
    prompt.max_cot_tokens = 4;
    prompt.save(s.output_dir);
    toy->stage1 = s.output_dir;
  }
  return toy->stage1;
}

GrpoConfig tiny_grpo(const std::string& output_dir, int64_t steps) {
  GrpoConfig c;
  c.model = stage1_model();
  c.data = toy->pairs;
  c.output_dir = output_dir;
  c.batch_size = 8;
  c.group_size = 8;
  c.max_steps = steps;
  c.lr = 1e-3;
  c.log_every = 1;
  c.num_threads = 1;
  c.quiet = true;
  return c;
}

// The metric `key` of every report.
std::vector<double> series(const std::vector<TrainProgress>& reports, const std::string& key) {
  std::vector<double> out;
  for (const auto& p : reports) out.push_back(p.metrics.at(key));
  return out;
}

TEST_F(TrainLoops, GrpoRaisesTheAccuracyReward) {
  TempDir out;
  GrpoConfig c = tiny_grpo(out.path(), 16);  // the stage-2 objective as specified: GRPO + 0.1 InfoNCE
  std::vector<TrainProgress> reports;
  c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  grpo(c);
  ASSERT_EQ(reports.size(), 16u);
  // Stage 1 already ranks most targets first: GRPO must close a good part of what is left.
  const auto [acc0, acc1] = first_last(reports, "reward_accuracy", 4);
  EXPECT_GT(acc1 - acc0, 0.3 * (1 - acc0)) << acc0 << " -> " << acc1;
  for (const auto& p : reports) {
    for (const char* key : {"reward", "reward_std", "reward_min", "reward_max", "zero_variance_groups",
                            "reward_format", "reward_length", "well_formed", "cot_length", "grpo_loss"})
      EXPECT_TRUE(p.metrics.count(key)) << key;
    EXPECT_LE(p.metrics.at("cot_length"), 4.0);
    EXPECT_LE(p.metrics.at("reward_min"), p.metrics.at("reward"));
    EXPECT_GE(p.metrics.at("reward_max"), p.metrics.at("reward"));
    EXPECT_GE(p.metrics.at("zero_variance_groups"), 0.0);
    EXPECT_LE(p.metrics.at("zero_variance_groups"), 1.0);
    EXPECT_EQ(p.metrics.at("clip_fraction"), 0.0);  // one update per batch: the ratio is 1
  }
}

TEST_F(TrainLoops, GrpoClipBindsWithSeveralUpdatesPerBatch) {
  // ppo_epochs updates on one sampled batch move the policy away from the one that sampled
  // it, so the PPO clip binds on some tokens; the KL to the frozen stage-1 model grows from 0.
  TempDir out;
  GrpoConfig c = tiny_grpo(out.path(), 3);
  c.ppo_epochs = 4;
  c.lr = 3e-3;
  c.kl_coef = 0.1;
  std::vector<TrainProgress> reports;
  c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  const TrainResult r = grpo(c);
  EXPECT_EQ(r.steps, 3);
  const std::vector<double> clipped = series(reports, "clip_fraction"), kl = series(reports, "kl");
  EXPECT_GT(*std::max_element(clipped.begin(), clipped.end()), 0.0);
  EXPECT_GT(*std::max_element(kl.begin(), kl.end()), 0.0);
  // Token-mean aggregation is the other accepted form.
  c.output_dir = out.file("token");
  c.loss_aggregation = "token";
  c.max_steps = 1;
  EXPECT_NO_THROW(grpo(c));
}

TEST_F(TrainLoops, MixedPrecisionTrainsLikeFloat32) {
  // The same 30 pretraining steps in float32 and with bfloat16 products: the losses follow
  // each other closely, yet the weights differ, so the products really ran in bfloat16.
  TempDir out;
  std::map<std::string, std::vector<double>> losses;
  for (const std::string precision : {"float32", "bfloat16", "bfloat16 again"}) {
    PretrainConfig c = tiny_pretrain(toy->corpus, out.file(precision), 30);
    c.tokenizer = toy->pretrained;
    c.precision = precision.substr(0, precision.find(' '));
    c.on_progress = [&](const TrainProgress& p) { losses[precision].push_back(p.metrics.at("loss")); };
    pretrain(c);
    EXPECT_FALSE(at::autocast::is_cpu_enabled()) << "the run left autocast on";
  }
  const auto& f32 = losses["float32"];
  const auto& bf16 = losses["bfloat16"];
  ASSERT_EQ(f32.size(), 30u);
  ASSERT_EQ(bf16.size(), 30u);
  EXPECT_LT(bf16.back(), 0.8 * bf16.front());
  for (size_t i = 0; i < f32.size(); ++i) EXPECT_NEAR(bf16[i], f32[i], 0.05 * f32[i]) << "step " << i + 1;
  EXPECT_NE(f32.back(), bf16.back());
  const auto wa = weights(out.file("float32")), wb = weights(out.file("bfloat16"));
  EXPECT_EQ(wb.at("model.layers.0.mlp.up_proj.weight").scalar_type(), at::kFloat);  // float32 weights saved
  EXPECT_FALSE(at::equal(wa.at("model.layers.0.mlp.up_proj.weight"), wb.at("model.layers.0.mlp.up_proj.weight")));
  // Deterministic all the same: a second bfloat16 run gives the same bytes.
  for (const auto& [name, t] : weights(out.file("bfloat16 again"))) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;

  // Stage 1 and stage 2 train under it too.
  SftConfig s = testing::quick_sft(toy->pretrained, toy->triplets, out.file("sft"), 60, 3e-3);
  s.precision = "bfloat16";
  s.log_every = 1;
  std::vector<TrainProgress> reports;
  s.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  sft(s);
  const auto [nce0, nce1] = first_last(reports, "nce_loss", 5);
  EXPECT_LT(nce1, 0.5 * nce0) << nce0 << " -> " << nce1;
  GrpoConfig g = tiny_grpo(out.file("grpo"), 3);
  g.precision = "bfloat16";
  reports.clear();
  g.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  grpo(g);
  ASSERT_EQ(reports.size(), 3u);
  for (const auto& p : reports) EXPECT_TRUE(std::isfinite(p.metrics.at("loss")) && p.metrics.at("reward_accuracy") > 0);
  EXPECT_FALSE(at::autocast::is_cpu_enabled());

  try {
    SftConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "precision": "float16"})", "cfg.json");
    FAIL() << "float16 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("precision"), std::string::npos) << e.what();
  }
}

TEST_F(TrainLoops, GrpoRanksTheTargetAmongExtraCatalogueItems) {
  // 8 queries over at most 8 distinct items, plus up to 256 more drawn from the 8 of the data
  // (no catalogue given): the pool is every distinct item, however many the batch holds.
  TempDir out;
  GrpoConfig c = tiny_grpo(out.path(), 2);
  c.reward_pool_extra_items = 256;
  std::vector<TrainProgress> reports;
  c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  grpo(c);
  for (const auto& p : reports) EXPECT_EQ(p.metrics.at("reward_pool_size"), double(kObjects.size()));
  c.reward_pool_extra_items = 0;
  c.output_dir = out.file("batch_only");
  reports.clear();
  grpo(c);
  for (const auto& p : reports) EXPECT_LE(p.metrics.at("reward_pool_size"), double(kObjects.size()));
}

TEST_F(TrainLoops, PretrainingContinuesFromAGivenModel) {
  // A copy of the toy backbone with a CoT cap of its own, which the continued model must keep.
  TempDir base, out;
  fs::copy(toy->pretrained, base.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string lrem_config = base.file("lrem_config.json");
  Json prompt = Json::parse(read_file(lrem_config));
  prompt["max_cot_tokens"] = 7;
  write_lines(lrem_config, {prompt.dump()});

  PretrainConfig c = tiny_pretrain(toy->corpus, out.path(), 3);
  c.init_model = base.path();
  std::vector<TrainProgress> reports;
  c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  pretrain(c);

  // It starts from the backbone's loss, not from a random model's.
  std::ifstream scratch_log(toy->pretrained + "/metrics.jsonl");
  std::string first_line;
  std::getline(scratch_log, first_line);
  const double scratch_first = Json::parse(first_line)["loss"].get<double>();
  ASSERT_FALSE(reports.empty());
  EXPECT_LT(reports.front().metrics.at("loss"), 0.6 * scratch_first);
  // Same tokenizer, architecture and LREM settings; trained weights.
  const Model before = Model::load(base.path()), after = Model::load(out.path());
  EXPECT_EQ(after.tokenizer().vocab_size(), before.tokenizer().vocab_size());
  for (int id : {5, 100, before.tokenizer().piece_to_id("<emb>")})
    EXPECT_EQ(after.tokenizer().id_to_piece(id), before.tokenizer().id_to_piece(id));
  EXPECT_EQ(after.config().to_json(), before.config().to_json());
  EXPECT_EQ(after.prompt_config().max_cot_tokens, 7);
  const auto wa = weights(base.path()), wb = weights(out.path());
  EXPECT_FALSE(at::equal(wa.at("model.layers.0.mlp.up_proj.weight"), wb.at("model.layers.0.mlp.up_proj.weight")));

  // The backbone owns the tokenizer and the architecture: setting them too is an error.
  for (const std::string field : {R"("model": {"hidden_size": 64})", R"("tokenizer": "t.model")", R"("vocab_size": 8000)",
                                  R"("tokenizer_type": "unigram")"}) {
    try {
      PretrainConfig::from_json(R"({"corpus": "c", "output_dir": "o", "init_model": "m", )" + field + "}", "pre.json");
      FAIL() << field << " accepted beside init_model";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("init_model"), std::string::npos) << e.what();
    }
  }
  c.seq_len = 100000;
  c.output_dir = out.file("too_long");
  try {
    pretrain(c);
    FAIL() << "seq_len beyond the backbone's positions accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("seq_len"), std::string::npos) << e.what();
  }
}

TEST_F(TrainLoops, ResumeContinuesExactly) {
  TempDir straight, interrupted;
  PretrainConfig a = tiny_pretrain(toy->corpus, straight.path(), 6);
  a.tokenizer = toy->pretrained;
  a.save_every = 3;
  pretrain(a);

  PretrainConfig b = a;
  b.output_dir = interrupted.path();
  b.on_progress = [](const TrainProgress& p) {
    if (p.step == 4) throw std::runtime_error("simulated crash after step 4");
  };
  EXPECT_THROW(pretrain(b), std::runtime_error);
  EXPECT_TRUE(fs::exists(interrupted.file("checkpoint-3/trainer_state.json")));
  EXPECT_FALSE(fs::exists(interrupted.file("checkpoint-6")));
  b.on_progress = nullptr;
  b.resume = true;
  const TrainResult r = pretrain(b);
  EXPECT_EQ(r.steps, 6);
  const auto wa = weights(straight.path()), wb = weights(interrupted.path());
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [name, t] : wa) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;
  // The metrics log reads as one run: steps 1..6 once each.
  std::ifstream in(interrupted.file("metrics.jsonl"));
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 6);
}

// Stage 1 with LoRA on the toy: rank 8 on every projection, the LREM token rows trainable.
SftConfig lora_sft(const std::string& output_dir, int64_t steps) {
  SftConfig c = testing::quick_sft(toy->pretrained, toy->triplets, output_dir, steps, 1e-2);
  c.lora.r = 8;
  c.lora.alpha = 16;
  c.log_every = 1;
  return c;
}

TEST_F(TrainLoops, StageOneWithLoraLowersBothLossesAndTrainsOnlyTheAdapter) {
  TempDir out, merged;
  SftConfig c = lora_sft(out.path(), 60);
  std::vector<TrainProgress> reports;
  c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  sft(c);
  ASSERT_EQ(reports.size(), 60u);
  const auto [sft0, sft1] = first_last(reports, "sft_loss", 5);
  const auto [nce0, nce1] = first_last(reports, "nce_loss", 5);
  EXPECT_LT(sft1, 0.8 * sft0) << sft0 << " -> " << sft1;
  EXPECT_LT(nce1, 0.5 * nce0) << nce0 << " -> " << nce1;

  // Checkpoints hold the adapter (2 layers x 7 projections x A, B, plus the tied token rows)
  // and its optimiser state only.
  const std::string checkpoint = out.file("checkpoint-60");
  EXPECT_FALSE(fs::exists(checkpoint + "/model.safetensors"));
  const auto adapter = read_tensor_file(checkpoint + "/adapter_model.safetensors");
  EXPECT_EQ(adapter.size(), 2u * 7 * 2 + 1);
  EXPECT_TRUE(adapter.count("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(adapter.count("base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"));
  EXPECT_EQ(read_tensor_file(checkpoint + "/optimizer.safetensors").size(), 2 * adapter.size() + 1);
  EXPECT_TRUE(fs::exists(out.file("adapter/adapter_config.json")));

  // The final model is merged: a plain Hugging Face directory whose backbone is the starting
  // one except for the adapted projections and the three LREM token rows.
  const Model model = Model::load(out.path());
  EXPECT_FALSE(fs::exists(out.file("adapter_config.json")));
  const auto before = weights(toy->pretrained), after = weights(out.path());
  ASSERT_EQ(before.size(), after.size());
  EXPECT_TRUE(at::equal(before.at("model.norm.weight"), after.at("model.norm.weight")));
  EXPECT_FALSE(at::equal(before.at("model.layers.0.mlp.up_proj.weight"), after.at("model.layers.0.mlp.up_proj.weight")));
  const at::Tensor changed =
      (before.at("model.embed_tokens.weight") != after.at("model.embed_tokens.weight")).any(1).nonzero().view(-1);
  const auto& tok = model.tokenizer();
  EXPECT_TRUE(at::equal(changed, std::get<0>(at::tensor({int64_t(tok.piece_to_id("<think>")), int64_t(tok.piece_to_id("</think>")),
                                              int64_t(tok.piece_to_id("<emb>"))}, at::kLong).sort())));
  // Merging the last checkpoint's adapter by hand gives the same model.
  merge_adapter(checkpoint, merged.path());
  const auto by_hand = weights(merged.path());
  for (const auto& [name, t] : after) EXPECT_TRUE(at::equal(t, by_hand.at(name))) << name;
}

TEST_F(TrainLoops, MixedPrecisionMergesLoraInFloat32) {
  // The adapter trains with bfloat16 products, but the final merge is float32 arithmetic: the
  // same as merging the last checkpoint's adapter by hand.
  TempDir out, merged;
  SftConfig c = lora_sft(out.path(), 3);
  c.precision = "bfloat16";
  sft(c);
  merge_adapter(out.file("checkpoint-3"), merged.path());
  const auto by_hand = weights(merged.path());
  for (const auto& [name, t] : weights(out.path())) EXPECT_TRUE(at::equal(t, by_hand.at(name))) << name;
}

TEST_F(TrainLoops, LoraResumeContinuesExactlyWithCheckpointingAndDropout) {
  TempDir straight, interrupted;
  SftConfig a = lora_sft(straight.path(), 4);
  a.save_every = 2;
  a.gradient_checkpointing = true;
  a.lora.dropout = 0.1;
  sft(a);
  SftConfig b = a;
  b.output_dir = interrupted.path();
  b.on_progress = [](const TrainProgress& p) {
    if (p.step == 3) throw std::runtime_error("simulated crash after step 3");
  };
  EXPECT_THROW(sft(b), std::runtime_error);
  b.on_progress = nullptr;
  b.resume = true;
  EXPECT_EQ(sft(b).steps, 4);
  const auto wa = weights(straight.path()), wb = weights(interrupted.path());
  for (const auto& [name, t] : wa) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;
}

TEST(TrainConfig, LoraAndCheckpointingOptions) {
  const SftConfig s = SftConfig::from_json(
      R"({"model": "m", "data": "d", "output_dir": "o", "gradient_checkpointing": true,
          "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]}})");
  EXPECT_TRUE(s.gradient_checkpointing);
  EXPECT_EQ(s.lora.r, 16);
  EXPECT_EQ(s.lora.alpha, 32);
  EXPECT_EQ(s.lora.dropout, 0.05);
  EXPECT_EQ(s.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_FALSE(SftConfig().lora.enabled());
  EXPECT_EQ(SftConfig().lora.target_modules.size(), 7u);
  EXPECT_THROW(SftConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "lora": {"rank": 8}})"),
               FormatError);
  EXPECT_THROW(SftConfig::from_json(
                   R"({"model": "m", "data": "d", "output_dir": "o", "lora": {"r": 8, "target_modules": ["qkv"]}})"),
               InvalidArgument);
  EXPECT_THROW(PretrainConfig::from_json(R"({"corpus": "c", "output_dir": "o", "lora": {"r": 4}})"), InvalidArgument);
}

TEST(TrainConfig, DefaultsAreThePapers) {
  const SftConfig s;  // lr, warmup, cosine floor, epochs, lambda SFT / InfoNCE
  EXPECT_EQ(std::make_tuple(s.lr, s.warmup_ratio, s.min_lr_ratio, s.epochs, s.lambda_sft, s.lambda_nce),
            std::make_tuple(1e-5, 0.03, 0.0, 1, 0.1, 1.0));
  const GrpoConfig g;  // lr, cosine floor, G, reward weights, GRPO / InfoNCE weights
  EXPECT_EQ(std::make_tuple(g.lr, g.min_lr_ratio, g.group_size, g.reward_format, g.reward_length, g.reward_accuracy,
                            g.lambda_grpo, g.lambda_nce),
            std::make_tuple(1e-6, 0.0, 8, 0.5, 0.2, 1.0, 1.0, 0.1));
  // One update per batch, GRPO's per-sequence mean, no KL.
  EXPECT_EQ(std::make_tuple(g.ppo_epochs, g.loss_aggregation, g.kl_coef), std::make_tuple(1, std::string("sequence"), 0.0));
  EXPECT_EQ(PromptConfig().max_cot_tokens, 16);
  EXPECT_THROW(GrpoConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "loss_aggregation": "mean"})"),
               InvalidArgument);
  EXPECT_THROW(GrpoConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "ppo_epochs": 0})"),
               InvalidArgument);
  // One process with batch 1 has no other item to rank the target against, unless extras come.
  EXPECT_THROW(GrpoConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "batch_size": 1})"),
               InvalidArgument);
  EXPECT_NO_THROW(GrpoConfig::from_json(
      R"({"model": "m", "data": "d", "output_dir": "o", "batch_size": 1, "reward_pool_extra_items": 255})"));
}

TEST(TrainConfig, DemoConfigsKeepTheirRatesExplicitly) {
  // The demo grows a 4-layer model from scratch with higher rates than the paper's defaults;
  // its configs say so, so the shipped models reproduce whatever the library defaults are.
  const std::string dir = std::string(LREM_SOURCE_DIR) + "/configs/demo/";
  const auto read = [&](const std::string& name) { return lrem::read_file(dir + name); };
  for (const char* name : {"stage1.json", "direct.json"}) {
    const SftConfig c = SftConfig::from_json(read(name), name);
    EXPECT_EQ(c.lr, 2e-4) << name;
    EXPECT_EQ(c.min_lr_ratio, 0.1) << name;
    EXPECT_EQ(c.warmup_ratio, 0.05) << name;
  }
  const GrpoConfig g = GrpoConfig::from_json(read("stage2.json"), "stage2.json");
  EXPECT_EQ(g.lr, 1e-4);
  EXPECT_EQ(g.min_lr_ratio, 0.1);
  EXPECT_EQ(g.loss_aggregation, "token");
  EXPECT_EQ(g.ppo_epochs, 1);
  EXPECT_EQ(PretrainConfig::from_json(read("pretrain.json"), "pretrain.json").min_lr_ratio, 0.1);
}

TEST_F(TrainLoops, ConfigErrorsNameTheField) {
  try {
    SftConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "lamda_sft": 0.5})", "cfg.json");
    FAIL() << "typo accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'lamda_sft'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GrpoConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "tau": "x"})"), FormatError);
  EXPECT_THROW(GrpoConfig::from_json(R"({"model": "m", "data": "d", "output_dir": "o", "group_size": 1})"),
               InvalidArgument);
  EXPECT_THROW(PretrainConfig::from_json(R"({"corpus": "c"})"), InvalidArgument);  // no output_dir
  const auto p = PretrainConfig::from_json(R"({"corpus": "c", "output_dir": "o", "model": {"hidden_size": 64,
      "num_attention_heads": 4, "num_key_value_heads": 4}})");
  EXPECT_EQ(p.model.hidden_size, 64);
  EXPECT_EQ(p.model.num_hidden_layers, PretrainConfig::small_model().num_hidden_layers);
  // Data errors name the file and line.
  TempDir d;
  write_lines(d.file("bad.jsonl"), {R"({"query": "q", "cot": "c", "item": "i"})", R"({"query": "q", "item": "i"})"});
  SftConfig s;
  s.model = toy->pretrained;
  s.data = d.file("bad.jsonl");
  s.output_dir = d.file("out");
  s.quiet = true;
  try {
    sft(s);
    FAIL() << "missing cot accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'cot'"), std::string::npos) << e.what();
  }
}

// Runs `rank0` here while this binary, re-executed, runs TrainDistributedWorker.Rank1 with
// `env` (forking a process that already ran libtorch and OpenMP is unsafe beyond exec).
void with_rank1(const std::vector<std::pair<std::string, std::string>>& env, const std::function<void()>& rank0) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
    execl("/proc/self/exe", "test_train_loops", "--gtest_filter=TrainDistributedWorker.Rank1", nullptr);
    _exit(127);
  }
  rank0();
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "rank 1 failed";
}

int test_port() { return 20000 + int(getpid() % 20000); }

// Two processes (this binary re-run as rank 1) with grad_accum 1 against one process with
// grad_accum 2 over the same global batches: the same weights up to summation order.
TEST_F(TrainLoops, DataParallelMatchesOneProcess) {
  TempDir single, parallel;
  PretrainConfig one = tiny_pretrain(toy->corpus, single.path(), 4);
  one.tokenizer = toy->pretrained;
  one.batch_size = 4;
  one.grad_accum = 2;
  pretrain(one);

  const int port = test_port();
  with_rank1({{"LREM_TEST_RANK1_JOB", "pretrain"},
              {"LREM_TEST_RANK1_OUTPUT", parallel.path()},
              {"LREM_TEST_RANK1_TOKENIZER", toy->pretrained},
              {"LREM_TEST_RANK1_CORPUS", toy->corpus},
              {"LREM_TEST_RANK1_PORT", std::to_string(port)}},
             [&] { pretrain(data_parallel_config(toy->corpus, toy->pretrained, parallel.path(), port, 0)); });
  const auto w1 = weights(single.path()), w2 = weights(parallel.path());
  for (const auto& [name, t] : w1) EXPECT_TRUE(at::allclose(t, w2.at(name), 1e-4, 1e-5)) << name;
}

// One of two GRPO ranks with 2 queries each.
GrpoConfig data_parallel_grpo(const std::string& model, const std::string& pairs, const std::string& out, int port,
                              int rank) {
  GrpoConfig c;
  c.model = model;
  c.data = pairs;
  c.output_dir = rank == 0 ? out : out + "/rank1";
  c.batch_size = 2;
  c.group_size = 4;
  c.max_steps = 4;
  c.lr = 1e-3;
  c.log_every = 1;
  c.num_threads = 1;
  c.quiet = true;
  c.world_size = 2;
  c.rank = rank;
  c.master_port = port;
  return c;
}

// The accuracy reward ranks each target among the items of the global batch, gathered from
// every rank: with 2 queries per rank, the pool holds up to 4 distinct items, which one
// process with the same batch_size never sees.
TEST_F(TrainLoops, GrpoRewardPoolGathersEveryRanksItems) {
  TempDir out;
  const int port = test_port() + 1;
  std::vector<TrainProgress> reports;
  with_rank1({{"LREM_TEST_RANK1_JOB", "grpo"},
              {"LREM_TEST_RANK1_OUTPUT", out.path()},
              {"LREM_TEST_RANK1_MODEL", stage1_model()},
              {"LREM_TEST_RANK1_DATA", toy->pairs},
              {"LREM_TEST_RANK1_PORT", std::to_string(port)}},
             [&] {
               GrpoConfig c = data_parallel_grpo(stage1_model(), toy->pairs, out.path(), port, 0);
               c.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
               grpo(c);
             });
  ASSERT_EQ(reports.size(), 4u);
  const std::vector<double> pool = series(reports, "reward_pool_size");
  EXPECT_GT(*std::max_element(pool.begin(), pool.end()), 2.0) << "the pool holds only this rank's items";
  for (double n : pool) EXPECT_LE(n, 4.0);
}

// Runs only when a data-parallel test above starts it as rank 1.
TEST(TrainDistributedWorker, Rank1) {
  const char* job = std::getenv("LREM_TEST_RANK1_JOB");
  if (!job) GTEST_SKIP() << "started by the data-parallel tests of TrainLoops only";
  const std::string output = std::getenv("LREM_TEST_RANK1_OUTPUT");
  const int port = std::atoi(std::getenv("LREM_TEST_RANK1_PORT"));
  if (std::string(job) == "pretrain") {
    pretrain(data_parallel_config(std::getenv("LREM_TEST_RANK1_CORPUS"), std::getenv("LREM_TEST_RANK1_TOKENIZER"),
                                  output, port, 1));
  } else {
    grpo(data_parallel_grpo(std::getenv("LREM_TEST_RANK1_MODEL"), std::getenv("LREM_TEST_RANK1_DATA"), output,
                            port, 1));
  }
}

}  // namespace
}  // namespace lrem
