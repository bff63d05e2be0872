#include "lrem/model.h"

#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>

#include <cstring>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model/checkpoint.h"
#include "util/file_io.h"
#include "model/generation.h"
#include "lrem/error.h"
#include "model/model_impl.h"

namespace fs = std::filesystem;

namespace lrem {

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return at::kHalf;
  throw InvalidArgument("unknown dtype '" + name + "'; use float32, bfloat16 or float16 (loading also takes int8)");
}

namespace {

// LoadOptions::dtype "int8": float32 compute with int8 projection weights (Transformer::quantize_int8).
bool is_int8(const std::string& dtype) { return dtype == "int8"; }

at::TensorOptions tensor_options(const LoadOptions& options) {
  at::Device device(at::kCPU);
  try {
    device = at::Device(options.device);
  } catch (const std::exception& e) {
    throw InvalidArgument("invalid device '" + options.device + "': use \"cpu\" or \"cuda:N\"");
  }
  if (device.is_cuda() && !at::hasCUDA())
    throw InvalidArgument("device '" + options.device + "' needs libtorch built with CUDA; this one is CPU-only: use \"cpu\"");
  const at::ScalarType dtype = is_int8(options.dtype) ? at::kFloat : parse_dtype(options.dtype);
  // libtorch has no CPU matrix products in float16 ("addmm_impl_cpu_ not implemented"):
  // refuse at load time rather than fail on the first forward pass.
  if (dtype == at::kHalf && device.is_cpu())
    throw InvalidArgument("dtype float16 needs a CUDA device; on the CPU use bfloat16 (fast with AVX512-BF16 or AMX)");
  return at::TensorOptions().dtype(dtype).device(device);
}

// FNV-1a over bytes: cheap enough to hash every weight at load time, and stable across
// runs and machines (unlike std::hash).
struct Fnv1a {
  uint64_t h = 1469598103934665603ull;
  void update(const void* data, size_t n) {
    auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void update(const std::string& s) { update(s.data(), s.size() + 1); }
};

// SentencePiece drops the word-boundary space of a sequence's first piece, so decoding the new
// tokens alone would glue them to the prompt ("The cat" + "and"). Decode prompt and
// continuation together and keep what the continuation added.
std::string continuation_text(const Tokenizer& tok, const std::vector<int>& prompt, const std::vector<int>& added) {
  std::vector<int> all = prompt;
  all.insert(all.end(), added.begin(), added.end());
  std::string before = tok.decode(prompt, /*skip_special_tokens=*/true);
  std::string full = tok.decode(all, /*skip_special_tokens=*/true);
  if (full.compare(0, before.size(), before) == 0) return full.substr(before.size());
  return tok.decode(added, /*skip_special_tokens=*/true);
}

// The hash of everything but the weights; each weight then adds its name and float32 bytes.
Fnv1a hash_header(const ModelConfig& config, const PromptConfig& prompt_config, const Tokenizer& tokenizer) {
  Fnv1a hash;
  hash.update(config.to_json());
  hash.update(prompt_config.to_json());
  for (int id = 0; id < tokenizer.vocab_size(); ++id) hash.update(tokenizer.id_to_piece(id));
  return hash;
}

std::string hex(const Fnv1a& hash) {
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << hash.h;
  return out.str();
}

}  // namespace

const PromptFormat& Model::Impl::prompt() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!prompt_) prompt_.emplace(tokenizer, prompt_config);
  return *prompt_;
}

void Model::Impl::invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  prompt_.reset();
  fingerprint_.clear();
}

std::string Model::Impl::fingerprint() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!fingerprint_.empty()) return fingerprint_;
  Fnv1a hash = hash_header(config, prompt_config, tokenizer);
  c10::InferenceMode guard;
  for (const auto& [name, tensor] : transformer.parameters()) {
    hash.update(name);
    at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    hash.update(t.data_ptr(), t.numel() * t.element_size());
  }
  return fingerprint_ = hex(hash);
}

void Model::Impl::fingerprint_checkpoint(const CheckpointReader& checkpoint) {
  // Only the tensors the model keeps (a tied checkpoint may also hold lm_head.weight), in
  // the same order and bytes as fingerprint() of a float32 load.
  Fnv1a hash = hash_header(config, prompt_config, tokenizer);
  c10::InferenceMode guard;
  for (const auto& [name, tensor] : transformer.parameters()) {
    hash.update(name);
    checkpoint.read_float32_chunks(name, [&](const at::Tensor& chunk) { hash.update(chunk.data_ptr(), chunk.nbytes()); });
  }
  std::lock_guard<std::mutex> lock(mutex_);
  fingerprint_ = hex(hash);
}

Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Model Model::load(const std::string& dir, const LoadOptions& options) {
  if (!fs::is_directory(dir))
    throw IoError("model directory '" + dir + "' does not exist (expected config.json, model.safetensors, tokenizer.model)");
  auto config = ModelConfig::load((fs::path(dir) / "config.json").string());
  auto tokenizer = Tokenizer::from_directory(dir);
  auto prompt = options.prompt_preset.empty() ? PromptConfig::load_or_default(dir)
                                              : PromptConfig::preset(options.prompt_preset);
  if (tokenizer.vocab_size() > config.vocab_size)
    throw FormatError(dir + ": the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                      " tokens but config.json says vocab_size " + std::to_string(config.vocab_size));
  auto impl = std::make_shared<Impl>(config, std::move(tokenizer), std::move(prompt), tensor_options(options));
  // Each tensor is read straight into the compute dtype, so the weights are never held twice.
  const CheckpointReader checkpoint(dir);
  const at::ScalarType dtype = impl->transformer.options().dtype().toScalarType();
  impl->transformer.load_parameters(checkpoint.read_all(dtype), dir);
  if (is_int8(options.dtype)) impl->transformer.quantize_int8();
  // The model is the checkpoint, whatever the compute dtype: hashed from the files' float32
  // values, an index built in float32 accepts a bfloat16 load of the same model.
  if (dtype != at::kFloat) impl->fingerprint_checkpoint(checkpoint);
  return Model(std::move(impl));
}

Model Model::random(const ModelConfig& config, const Tokenizer& tokenizer, uint64_t seed, const LoadOptions& options) {
  config.validate();
  if (tokenizer.vocab_size() > config.vocab_size)
    throw InvalidArgument("the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                          " tokens but the config's vocab_size is " + std::to_string(config.vocab_size));
  auto impl = std::make_shared<Impl>(config, tokenizer, PromptConfig{}, tensor_options(options));
  impl->transformer.init_random(seed);
  if (is_int8(options.dtype)) impl->transformer.quantize_int8();
  return Model(std::move(impl));
}

void Model::save(const std::string& dir) const {
  ensure_directory(dir);
  const Impl& m = *impl_;
  // Weights first and config last: a reader that finds the new config.json also finds
  // weights of the matching shape.
  save_checkpoint_tensors(dir, m.transformer.parameters(), parse_dtype(m.config.torch_dtype));
  m.tokenizer.save(dir);
  m.prompt_config.save(dir);
  nlohmann::json gen = {{"bos_token_id", m.tokenizer.bos_id()}, {"eos_token_id", m.tokenizer.eos_id()}};
  write_file_atomic((fs::path(dir) / "generation_config.json").string(), gen.dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "config.json").string(), m.config.to_json());
}

Model Model::with_lrem_tokens() const {
  const Impl& m = *impl_;
  Tokenizer tokenizer = m.tokenizer;
  // Only the tokens the prompt format uses: a direct embedder's has no think section.
  std::vector<std::string> tokens;
  if (m.prompt_config.think) tokens = {m.prompt_config.think_open, m.prompt_config.think_close};
  tokens.push_back(m.prompt_config.emb);
  for (const std::string& s : tokens) tokenizer.add_special_token(s);
  ModelConfig config = m.config;
  Transformer transformer = m.transformer;  // resize_vocab replaces the grown tensors, never writes into them
  if (tokenizer.vocab_size() > config.vocab_size) {
    transformer.resize_vocab(tokenizer.vocab_size());
    config.vocab_size = tokenizer.vocab_size();
  }
  return Model(std::make_shared<Impl>(std::move(config), std::move(tokenizer), m.prompt_config, std::move(transformer)));
}

const ModelConfig& Model::config() const { return impl_->config; }
const Tokenizer& Model::tokenizer() const { return impl_->tokenizer; }
const PromptConfig& Model::prompt_config() const { return impl_->prompt_config; }

Model Model::with_prompt_config(const PromptConfig& config) const {
  config.validate();
  const Impl& m = *impl_;
  return Model(std::make_shared<Impl>(m.config, m.tokenizer, config, m.transformer));
}

std::string Model::fingerprint() const { return impl_->fingerprint(); }

std::vector<Generation> Model::generate(const std::vector<std::string>& prompts, const GenerationOptions& options) const {
  options.validate();
  const Impl& m = *impl_;
  const bool bos = options.add_bos && m.tokenizer.add_bos_token();
  std::vector<std::vector<int>> ids;
  ids.reserve(prompts.size());
  for (const auto& p : prompts) {
    ids.push_back(m.tokenizer.encode(p, bos));
    if (ids.back().empty()) throw InvalidArgument("empty prompt: give some text (or allow BOS with add_bos)");
  }
  GenerationOptions engine = options;
  if (options.stop_at_eos && m.tokenizer.eos_id() >= 0) engine.stop_ids.push_back(m.tokenizer.eos_id());
  std::vector<Continuation> continuations = lrem::generate(m.transformer, ids, engine);
  std::vector<Generation> out(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    out[i].prompt_ids = std::move(ids[i]);
    out[i].token_ids = std::move(continuations[i].token_ids);
    out[i].text = continuation_text(m.tokenizer, out[i].prompt_ids, out[i].token_ids);
    out[i].finish_reason = std::move(continuations[i].finish_reason);
  }
  return out;
}

Generation Model::generate(const std::string& prompt, const GenerationOptions& options) const {
  return std::move(generate(std::vector<std::string>{prompt}, options).front());
}

}  // namespace lrem
