// Pretraining: a SentencePiece tokenizer (trained on the corpus unless given), the LREM
// special tokens, a randomly initialised Llama (or a given model to continue from), next-token
// loss on packed blocks.
#include <ATen/ATen.h>

#include <filesystem>
#include <sstream>

#include "util/file_io.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/runtime.h"
#include "lrem/train.h"
#include "model/model_access.h"
#include "train/batch.h"
#include "train/losses.h"
#include "train/trainer.h"

namespace lrem {

namespace fs = std::filesystem;

namespace {

Tokenizer prepare_tokenizer(const PretrainConfig& config, DataParallel& dp) {
  if (!config.tokenizer.empty()) {
    return fs::is_directory(config.tokenizer) ? Tokenizer::from_directory(config.tokenizer)
                                              : Tokenizer::load(config.tokenizer);
  }
  // Trained once into output_dir (rank 0), reused by the other ranks and on resume.
  const std::string prefix = (fs::path(config.output_dir) / "pretrain_tokenizer").string();
  if (dp.is_main() && !(config.resume && fs::exists(prefix + ".model"))) {
    TokenizerTrainOptions options;
    options.vocab_size = config.vocab_size;
    options.model_type = config.tokenizer_type;
    options.num_threads = config.num_threads;
    options.seed = config.seed;
    Tokenizer::train(config.corpus, prefix, options);
  }
  dp.barrier();
  return Tokenizer::load(prefix + ".model");
}

// Documents as BOS text EOS, concatenated and cut into seq_len-token blocks (the last,
// partial block is dropped).
std::vector<std::vector<int>> pack_corpus(const PretrainConfig& config, const Tokenizer& tokenizer) {
  std::istringstream in(read_file(config.corpus));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  std::vector<int> stream;
  for (const auto& ids : tokenizer.encode_batch(lines, /*add_bos=*/true, /*add_eos=*/true))
    stream.insert(stream.end(), ids.begin(), ids.end());
  std::vector<std::vector<int>> blocks;
  for (size_t start = 0; start + size_t(config.seq_len) <= stream.size(); start += config.seq_len)
    blocks.emplace_back(stream.begin() + start, stream.begin() + start + config.seq_len);
  if (blocks.empty())
    throw FormatError(config.corpus + ": the corpus has " + std::to_string(stream.size()) +
                      " tokens, fewer than one block of seq_len " + std::to_string(config.seq_len));
  return blocks;
}

// A randomly initialised Llama over a (given or newly trained) tokenizer with the LREM tokens.
Model new_model(const PretrainConfig& config, DataParallel& dp) {
  Tokenizer tokenizer = prepare_tokenizer(config, dp);
  const PromptConfig prompt;
  for (const auto& token : {prompt.think_open, prompt.think_close, prompt.emb}) tokenizer.add_special_token(token);
  ModelConfig model_config = config.model;
  model_config.vocab_size = tokenizer.vocab_size();
  model_config.bos_token_id = tokenizer.bos_id();
  model_config.eos_token_id = tokenizer.eos_id();
  model_config.pad_token_id = tokenizer.pad_id();
  return Model::random(model_config, tokenizer, config.seed);
}

}  // namespace

TrainResult pretrain(const PretrainConfig& config) {
  config.validate("pretrain config");
  set_num_threads(config.num_threads);
  ensure_directory(config.output_dir);
  const std::unique_ptr<DataParallel> group = train::join_process_group(config);
  DataParallel& dp = *group;

  Model model = config.init_model.empty() ? new_model(config, dp) : train::load_lrem_model(config.init_model);
  if (config.seq_len > model.config().max_positions())
    throw InvalidArgument("pretrain config: seq_len " + std::to_string(config.seq_len) + " exceeds " +
                          config.init_model + "'s max_position_embeddings (" +
                          std::to_string(model.config().max_positions()) + " positions); lower seq_len");

  const std::vector<std::vector<int>> blocks = pack_corpus(config, model.tokenizer());
  train::Trainer trainer(config, "pretrain", model, blocks.size(), dp);
  const Transformer& transformer = ModelAccess::parts(model).transformer;
  return trainer.run([&](const train::Trainer::MicroBatch& mb) {
    std::vector<std::vector<int>> rows;
    rows.reserve(mb.examples.size());
    for (size_t i : mb.examples) rows.push_back(blocks[i]);
    const train::TokenBatch batch = train::make_batch(std::vector<std::vector<int>>(rows.size()), rows, 0);
    const auto out = transformer.forward(batch.input_ids, batch.position_ids, batch.attention_mask, nullptr, true);
    const at::Tensor loss = train::sft_loss(out.logits, batch.targets, batch.loss_mask);
    (loss * mb.loss_scale).backward();
    return train::Metrics{{"loss", loss.item<double>()}};
  });
}

}  // namespace lrem
