#include "model/generation.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "lrem/error.h"
#include "model/padding.h"

namespace lrem {

void GenerationOptions::validate() const {
  if (max_new_tokens < 0)
    throw InvalidArgument("max_new_tokens must be >= 0, got " + std::to_string(max_new_tokens));
  if (!std::isfinite(temperature) || temperature < 0)
    throw InvalidArgument("temperature must be a finite number >= 0 (0 = greedy), got " + std::to_string(temperature));
  if (top_k < 0) throw InvalidArgument("top_k must be >= 0 (0 = no top-k filter), got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1))
    throw InvalidArgument("top_p must lie in (0, 1] (1 = no nucleus filter), got " + std::to_string(top_p));
  for (int id : stop_ids)
    if (id < 0) throw InvalidArgument("stop ids must be token ids >= 0, got " + std::to_string(id));
}

// ---- Decoder -------------------------------------------------------------------------------

// cache_ is initialised first and rejects a non-positive batch or capacity.
Decoder::Decoder(const Transformer& model, int64_t batch, int64_t capacity)
    : model_(&model),
      cache_(model.config(), batch, capacity, model.options()),
      mask_(at::zeros({batch, capacity}, at::TensorOptions().dtype(at::kBool).device(model.options().device()))),
      positions_(batch, 0),
      last_hidden_(at::zeros({batch, model.config().hidden_size}, model.options().dtype(at::kFloat))),
      queued_(batch) {}

Decoder::Decoder(const Transformer* model, KVCache cache, at::Tensor mask, std::vector<int64_t> positions,
                 at::Tensor last_hidden, std::vector<std::vector<int>> queued)
    : model_(model), cache_(std::move(cache)), mask_(std::move(mask)), positions_(std::move(positions)),
      last_hidden_(std::move(last_hidden)), queued_(std::move(queued)) {}

Decoder Decoder::expand(int64_t batch, int64_t capacity) const {
  if (this->batch() != 1)
    throw InvalidArgument("Decoder::expand needs a batch-1 prefix, this decoder has " + std::to_string(this->batch()) +
                          " rows");
  KVCache cache = cache_.expand_prefix(batch, capacity);
  at::Tensor mask = at::zeros({batch, capacity}, mask_.options());
  mask.narrow(1, 0, length()).copy_(rows_mask().narrow(1, 0, length()));
  return Decoder(model_, std::move(cache), std::move(mask), std::vector<int64_t>(batch, positions_[0]),
                 last_hidden_.expand({batch, last_hidden_.size(1)}).clone(),
                 std::vector<std::vector<int>>(batch, queued_[0]));
}

void Decoder::check_rows(size_t rows, const char* what) const {
  if (static_cast<int64_t>(rows) != batch())
    throw InvalidArgument(std::string(what) + " got " + std::to_string(rows) + " rows of tokens for a decoder of " +
                          std::to_string(batch()) + " rows");
}

void Decoder::queue(const std::vector<std::vector<int>>& tokens) {
  check_rows(tokens.size(), "Decoder::queue");
  for (size_t b = 0; b < tokens.size(); ++b) queued_[b].insert(queued_[b].end(), tokens[b].begin(), tokens[b].end());
}

bool Decoder::has_queued() const {
  return std::any_of(queued_.begin(), queued_.end(), [](const auto& q) { return !q.empty(); });
}

void Decoder::flush() { append(std::vector<std::vector<int>>(batch())); }

const at::Tensor& Decoder::append(const std::vector<std::vector<int>>& tokens) {
  check_rows(tokens.size(), "Decoder::append");
  const int64_t B = batch();
  std::vector<std::vector<int>> rows = queued_;
  size_t T = 0;
  for (int64_t b = 0; b < B; ++b) {
    rows[b].insert(rows[b].end(), tokens[b].begin(), tokens[b].end());
    T = std::max(T, rows[b].size());
  }
  if (T == 0) return last_hidden_;
  const int64_t past = length();
  if (past + static_cast<int64_t>(T) > capacity())
    throw LimitExceeded("decoder capacity exceeded: " + std::to_string(past) + " positions used, " +
                        std::to_string(T) + " more needed, capacity " + std::to_string(capacity()) +
                        "; create the decoder with room for the prompt, the new tokens and anything appended");

  // Each row's tokens end at the chunk's last column, so column T-1 holds every fed row's
  // newest token; padding (id 0, position 0, masked) fills the front.
  const PaddedRows chunk = pad_rows(rows, PadSide::Left);
  const at::Tensor ids = chunk.ids;
  const at::Tensor pos = chunk.positions + at::tensor(positions_, at::kLong).unsqueeze(1) * chunk.mask;
  const at::Tensor real = chunk.mask.to(at::kBool);
  std::vector<char> fed(B, 0);
  for (int64_t b = 0; b < B; ++b) fed[b] = !rows[b].empty();
  const auto device = model_->options().device();
  const at::Tensor mask = rows_mask();
  mask.narrow(1, past, static_cast<int64_t>(T)).copy_(real.to(device));
  const ForwardOutput out = model_->forward(ids.to(device), pos.to(device), mask.narrow(1, 0, past + T), &cache_,
                                            /*compute_logits=*/false);
  const at::Tensor newest = out.hidden.select(1, static_cast<int64_t>(T) - 1);
  const bool all_fed = std::all_of(fed.begin(), fed.end(), [](char f) { return f; });
  if (all_fed) {
    last_hidden_ = newest;
  } else {
    const at::Tensor fed_rows = real.select(1, static_cast<int64_t>(T) - 1).to(device).unsqueeze(1);
    last_hidden_ = at::where(fed_rows, newest, last_hidden_);
  }
  for (int64_t b = 0; b < B; ++b) positions_[b] += static_cast<int64_t>(rows[b].size());
  for (auto& q : queued_) q.clear();
  return last_hidden_;
}

int64_t Decoder::first_used() const {
  const int64_t L = length();
  if (L == 0) return 0;
  const at::Tensor used = rows_mask().narrow(1, 0, L).any(0).to(at::kCPU);
  const auto* u = used.data_ptr<bool>();
  int64_t first = 0;
  while (first < L && !u[first]) ++first;
  return first;
}

void Decoder::relayout(int64_t rows, int64_t capacity, int64_t first, int64_t length) {
  const int64_t B = batch(), kept = this->length() - first;
  KVCache cache = cache_.empty_like(rows, capacity);
  cache.copy_block(cache_, 0, 0, B, first, length - kept, kept);
  cache.set_extent(B, length);
  at::Tensor mask = at::zeros({rows, capacity}, mask_.options());
  mask.narrow(0, 0, B).narrow(1, length - kept, kept).copy_(rows_mask().narrow(1, first, kept));
  cache_ = std::move(cache);
  mask_ = std::move(mask);
}

void Decoder::join(const Decoder& other) {
  if (other.model_ != model_) throw InvalidArgument("Decoder::join: the decoders belong to different models");
  const int64_t n = batch(), k = other.batch(), L = length(), Lo = other.length();
  const int64_t first = first_used(), length = std::max(L - first, Lo);
  if (n + k > cache_.row_capacity() || Lo > L)  // rebuilt with room to spare, so this stays rare
    relayout(std::max(n + k, 2 * n), std::max(capacity(), 2 * length), first, length);
  const int64_t now = this->length();
  cache_.set_extent(n + k, now);
  cache_.copy_block(other.cache_, 0, n, k, 0, now - Lo, Lo);
  at::Tensor mask = mask_.narrow(0, n, k);
  mask.narrow(1, 0, now - Lo).fill_(false);
  mask.narrow(1, now - Lo, Lo).copy_(other.rows_mask().narrow(1, 0, Lo));
  positions_.insert(positions_.end(), other.positions_.begin(), other.positions_.end());
  queued_.insert(queued_.end(), other.queued_.begin(), other.queued_.end());
  last_hidden_ = at::cat({last_hidden_, other.last_hidden_});
}

void Decoder::keep_rows(const std::vector<int64_t>& rows) {
  const int64_t kept = static_cast<int64_t>(rows.size()), L = length();
  for (int64_t i = 0; i < kept; ++i) {
    if (rows[i] < i || rows[i] >= batch() || (i > 0 && rows[i] <= rows[i - 1]))
      throw InvalidArgument("Decoder::keep_rows needs ascending row indices below " + std::to_string(batch()));
    if (rows[i] == i) continue;
    // Ascending indices: row i's old content is never needed again.
    cache_.copy_block(cache_, rows[i], i, 1, 0, 0, L);
    mask_[i].copy_(mask_[rows[i]]);
    positions_[i] = positions_[rows[i]];
    queued_[i] = std::move(queued_[rows[i]]);
  }
  positions_.resize(kept);
  queued_.resize(kept);
  last_hidden_ = last_hidden_.index_select(0, at::tensor(rows, at::kLong).to(last_hidden_.device()));
  cache_.set_extent(kept, L);
}

void Decoder::reserve(int64_t more) {
  const int64_t L = length();
  if (L + more <= capacity()) return;
  const int64_t first = first_used(), used = L - first;
  relayout(std::max<int64_t>(cache_.row_capacity(), 1), std::max(capacity(), 2 * (used + more)), first, used);
}

const at::Tensor& Decoder::last_hidden() const {
  if (has_queued())
    throw InvalidArgument("the decoder has queued tokens (a generation's last tokens): call flush() or append() "
                          "before reading the hidden state");
  return last_hidden_;
}

at::Tensor Decoder::last_logits() const { return model_->logits(last_hidden()).to(at::kFloat); }

// ---- Sampler -------------------------------------------------------------------------------

Sampler::Sampler(const GenerationOptions& options)
    : temperature_(options.temperature), top_p_(options.top_p), top_k_(options.top_k),
      generator_(at::make_generator<at::CPUGeneratorImpl>(options.seed)) {
  options.validate();
}

std::vector<int> Sampler::next(const at::Tensor& logits) {
  at::Tensor scores = logits.detach().to(at::kCPU, at::kFloat);
  at::Tensor chosen;
  if (temperature_ == 0) {
    chosen = scores.argmax(-1);
  } else {
    scores = scores / temperature_;
    const int64_t vocab = scores.size(-1);
    if (top_k_ > 0 && top_k_ < vocab) {
      const at::Tensor kth = std::get<0>(scores.topk(top_k_, -1)).narrow(-1, top_k_ - 1, 1);
      scores = scores.masked_fill(scores < kth, -std::numeric_limits<float>::infinity());
    }
    at::Tensor probs = at::softmax(scores, -1);
    if (top_p_ < 1) {
      const auto sorted = probs.sort(-1, /*descending=*/true);
      const at::Tensor sorted_probs = std::get<0>(sorted), order = std::get<1>(sorted);
      // Keep a token while the mass before it is below top_p: the smallest prefix reaching
      // top_p, and always the most likely token.
      const at::Tensor mass_before = sorted_probs.cumsum(-1) - sorted_probs;
      const at::Tensor kept = sorted_probs.masked_fill(mass_before >= top_p_, 0);
      probs = at::zeros_like(probs).scatter(-1, order, kept);
    }
    chosen = at::multinomial(probs, 1, /*replacement=*/false, generator_).squeeze(-1);
  }
  const at::Tensor ids = chosen.to(at::kLong).contiguous();
  return std::vector<int>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
}

// ---- generation loop -----------------------------------------------------------------------

StopRule::StopRule(const GenerationOptions& options)
    : stops_(options.stop_ids.begin(), options.stop_ids.end()), max_new_tokens_(options.max_new_tokens) {}

bool StopRule::add(Continuation& c, int token) const {
  c.token_ids.push_back(token);
  if (stops_.count(token)) c.finish_reason = "stop";
  else if (static_cast<int>(c.token_ids.size()) >= max_new_tokens_) c.finish_reason = "length";
  return !c.finish_reason.empty();
}

std::vector<Continuation> generate(Decoder& decoder, const GenerationOptions& options) {
  options.validate();
  const int64_t B = decoder.batch();
  const int64_t max_positions = decoder.model().config().max_positions();
  decoder.flush();
  int64_t longest = 0;
  for (int64_t b = 0; b < B; ++b) {
    if (decoder.row_length(b) == 0)
      throw InvalidArgument("generate: row " + std::to_string(b) + " has no tokens; feed a prompt (at least BOS) first");
    longest = std::max(longest, decoder.row_length(b));
  }
  // The last token is queued, not fed: generating n tokens feeds n - 1.
  const int64_t fed = std::max(options.max_new_tokens - 1, 0);
  if (decoder.length() + fed > decoder.capacity())
    throw LimitExceeded("generate: " + std::to_string(options.max_new_tokens) + " new tokens do not fit the decoder (" +
                        std::to_string(decoder.length()) + " of " + std::to_string(decoder.capacity()) +
                        " positions used); lower max_new_tokens or create a larger decoder");
  if (longest + fed > max_positions)
    throw LimitExceeded("generate: a prompt of " + std::to_string(longest) + " tokens plus " +
                        std::to_string(options.max_new_tokens) + " new tokens exceeds the model's " +
                        std::to_string(max_positions) + " positions (max_position_embeddings or sliding_window)");

  std::vector<Continuation> out(B);
  if (options.max_new_tokens == 0) {
    for (auto& c : out) c.finish_reason = "length";
    return out;
  }
  const StopRule rule(options);
  Sampler sampler(options);
  std::vector<bool> active(B, true);
  at::Tensor logits = decoder.last_logits();
  while (true) {
    const std::vector<int> next = sampler.next(logits);
    std::vector<std::vector<int>> feed(B);
    bool any_active = false;
    for (int64_t b = 0; b < B; ++b) {
      if (!active[b]) continue;
      feed[b] = {next[b]};
      active[b] = !rule.add(out[b], next[b]);
      any_active = any_active || active[b];
    }
    if (!any_active) {
      decoder.queue(feed);
      return out;
    }
    decoder.append(feed);
    logits = decoder.last_logits();
  }
}

std::vector<Continuation> generate(const Transformer& model, const std::vector<std::vector<int>>& prompts,
                                   const GenerationOptions& options) {
  options.validate();
  if (prompts.empty()) return {};
  size_t longest = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty())
      throw InvalidArgument("generate: prompt " + std::to_string(i) + " is empty; it needs at least one token (BOS)");
    longest = std::max(longest, prompts[i].size());
  }
  c10::InferenceMode inference;
  Decoder decoder(model, static_cast<int64_t>(prompts.size()),
                  static_cast<int64_t>(longest) + std::max(options.max_new_tokens - 1, 0));
  decoder.append(prompts);
  return generate(decoder, options);
}

}  // namespace lrem
