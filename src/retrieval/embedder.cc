#include "lrem/embedder.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "model/cot.h"
#include "retrieval/batch_scheduler.h"
#include "model/generation.h"
#include "model/padding.h"
#include "lrem/error.h"
#include "model/model_access.h"
#include "util/utf8.h"

namespace lrem {

Pooling parse_pooling(const std::string& name) {
  if (name == "last") return Pooling::Last;
  if (name == "mean") return Pooling::Mean;
  throw InvalidArgument("unknown pooling '" + name + "': use \"last\" (the <emb> state) or \"mean\"");
}

const char* to_string(Pooling pooling) { return pooling == Pooling::Last ? "last" : "mean"; }

namespace {

// One cached query result: the CoT and the full-dimension embedding it produced.
struct CachedQuery {
  std::string cot;
  std::vector<float> embedding;
};

// A bounded LRU map from query key to result. Its own lock keeps Embedder const-callable
// from many threads.
class CotCache {
 public:
  explicit CotCache(size_t capacity) : capacity_(capacity) {}

  std::optional<CachedQuery> get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++misses_;
      return std::nullopt;
    }
    ++hits_;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void put(const std::string& key, CachedQuery value) {
    if (capacity_ == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  CacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {hits_, misses_, order_.size(), capacity_};
  }

  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    order_.clear();
    index_.clear();
    hits_ = misses_ = 0;
  }

 private:
  using Entry = std::pair<std::string, CachedQuery>;
  mutable std::mutex mutex_;
  size_t capacity_;
  std::list<Entry> order_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

void check_text(const std::string& text, const char* what) {
  if (!is_valid_utf8(text)) throw InvalidArgument(std::string(what) + " is not valid UTF-8");
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); }))
    throw InvalidArgument(std::string("empty or whitespace-only ") + what);
}

}  // namespace

struct Embedder::Impl {
  Impl(Model m, EmbedderOptions o) : model(std::move(m)), options(std::move(o)), cache(options.cot_cache_capacity) {
    const ModelConfig& config = model.config();
    if (options.batch_size <= 0) throw InvalidArgument("batch_size must be positive");
    if (options.output_dim < 0 || options.output_dim > config.hidden_size)
      throw InvalidArgument("output_dim must be between 1 and the model's hidden size " +
                            std::to_string(config.hidden_size) + " (0 = full), got " +
                            std::to_string(options.output_dim));
    if (options.max_cot_tokens < 0) throw InvalidArgument("max_cot_tokens must be >= 0 (0 = the model's setting)");
    max_cot = options.max_cot_tokens > 0 ? options.max_cot_tokens : model.prompt_config().max_cot_tokens;
    // Decoders are sized for the whole CoT up front: a cap beyond the model's context (from
    // the options or a model's lrem_config.json) must not size a KV cache.
    if (int64_t(max_cot) + 3 > config.max_positions())
      throw LimitExceeded("max_cot_tokens " + std::to_string(max_cot) + " does not fit the model's context of " +
                          std::to_string(config.max_positions()) +
                          " positions (max_position_embeddings or sliding_window) with <think>, </think> and <emb>; lower it");
    dim = options.output_dim > 0 ? options.output_dim : config.hidden_size;
    const PromptFormat& prompt = ModelAccess::parts(model).prompt();  // throws if the LREM tokens are missing
    prefix_ids = prompt.query_prefix();
    if (options.prefix_cache && !prefix_ids.empty()) {
      c10::InferenceMode guard;
      prefix.emplace(ModelAccess::parts(model).transformer, 1, static_cast<int64_t>(prefix_ids.size()));
      prefix->append({prefix_ids});
    }
    if (options.batching && options.pooling == Pooling::Last) {
      BatchSpec spec;
      spec.model = &ModelAccess::parts(model).transformer;
      spec.prefix = prefix ? &*prefix : nullptr;
      // A format without a think section never generates (reason mode is refused).
      spec.cot = prompt.think_close_id() >= 0 ? cot_generation(sampling(), max_cot, prompt.think_close_id()) : sampling();
      spec.think_close_id = prompt.think_close_id();
      spec.emb_id = prompt.emb_id();
      spec.max_rows = options.batch_size;
      spec.max_wait_ms = options.max_wait_ms;
      scheduler = std::make_unique<BatchScheduler>(spec);
    }
  }

  GenerationOptions sampling() const {
    GenerationOptions g;
    g.temperature = options.temperature;
    g.top_k = options.top_k;
    g.top_p = options.top_p;
    g.seed = options.seed;
    return g;
  }

  // The CoT rule (model/cot.h) applied to a query's generated tokens; the CoT's text goes to
  // out.cots[row].
  CotEnding end_row_cot(const std::vector<int>& generated, size_t row, Embeddings& out) const {
    const Tokenizer& tokenizer = model.tokenizer();
    CotEnding ending = end_cot(generated, max_cot, ModelAccess::parts(model).prompt().think_close_id(),
                               [&](int id) { return tokenizer.is_special(id); });
    out.cots[row] = tokenizer.decode(ending.cot, /*skip_special_tokens=*/true);
    return ending;
  }

  // Final rows [n, hidden] -> truncated, normalised float32 rows appended to `out`.
  void write_rows(const at::Tensor& hidden, const std::vector<size_t>& rows, Embeddings& out) const {
    at::Tensor h = hidden.to(at::kCPU, at::kFloat).narrow(1, 0, dim);
    h = h / h.norm(2, 1, true).clamp_min(1e-12);
    h = h.contiguous();
    const float* src = h.data_ptr<float>();
    for (size_t i = 0; i < rows.size(); ++i)
      std::memcpy(out.data.data() + rows[i] * dim, src + i * dim, dim * sizeof(float));
  }

  // One forward pass over whole sequences (no cache), pooled as the options say: [n, hidden].
  at::Tensor pooled_forward(const std::vector<std::vector<int>>& seqs) const {
    const Transformer& tf = ModelAccess::parts(model).transformer;
    // Left padding puts every <emb> in the last column.
    const PaddedRows batch = pad_rows(seqs, PadSide::Left);
    auto device = tf.options().device();
    const at::Tensor mask = batch.mask.to(device);
    at::Tensor hidden = tf.forward(batch.ids.to(device), batch.positions.to(device), mask, nullptr, false).hidden;
    if (options.pooling == Pooling::Last) return hidden.select(1, hidden.size(1) - 1);
    at::Tensor weights = mask.unsqueeze(2).to(hidden.scalar_type());
    return (hidden * weights).sum(1) / weights.sum(1);
  }

  // Each row's full sequence: prefix + body + tail.
  std::vector<std::vector<int>> full_sequences(const std::vector<std::vector<int>>& bodies,
                                               const std::vector<std::vector<int>>& tails) const {
    std::vector<std::vector<int>> seqs(bodies.size(), prefix_ids);
    for (size_t i = 0; i < bodies.size(); ++i) {
      seqs[i].insert(seqs[i].end(), bodies[i].begin(), bodies[i].end());
      seqs[i].insert(seqs[i].end(), tails[i].begin(), tails[i].end());
    }
    return seqs;
  }

  // Generates each row's CoT after its <think> under the CoT rule (model/cot.h) and records
  // its text in `out`. tails: each row's whole tail (CoT ids, </think>, <emb>); closing: what
  // the decoder still needs to be fed, since it already holds the CoT and, when the model
  // wrote it, the </think>.
  struct GeneratedTails {
    std::vector<std::vector<int>> tails, closing;
  };
  GeneratedTails generate_tails(Decoder& decoder, const std::vector<size_t>& rows, Embeddings& out) const {
    const PromptFormat& prompt = ModelAccess::parts(model).prompt();
    std::vector<Continuation> cots = generate(decoder, cot_generation(sampling(), max_cot, prompt.think_close_id()));
    GeneratedTails g{std::vector<std::vector<int>>(cots.size()), std::vector<std::vector<int>>(cots.size())};
    for (size_t i = 0; i < cots.size(); ++i) {
      const CotEnding ending = end_row_cot(cots[i].token_ids, rows[i], out);
      g.tails[i] = prompt.close_cot(ending.cot);
      if (ending.closed) {
        g.closing[i] = {prompt.emb_id()};
      } else {
        decoder.discard_queued(int64_t(i));  // the token past the cap (the last one generated: queued)
        g.closing[i] = {prompt.think_close_id(), prompt.emb_id()};
      }
    }
    return g;
  }

  // Embeds one batch of queries: `bodies` are the token ids after the shared prefix up to
  // <think>; `tails` the given CoT + </think><emb> per row, or empty to generate the CoTs.
  void embed_query_batch(const std::vector<std::vector<int>>& bodies, const std::vector<std::vector<int>>& tails,
                         const std::vector<size_t>& rows, Embeddings& out) const {
    const bool generate_cot = tails.empty();
    if (!generate_cot && options.pooling == Pooling::Mean)
      return write_rows(pooled_forward(full_sequences(bodies, tails)), rows, out);

    const int64_t n = static_cast<int64_t>(bodies.size());
    size_t longest = 0;
    for (int64_t i = 0; i < n; ++i)
      longest = std::max(longest, bodies[i].size() + (generate_cot ? size_t(max_cot) + 2 : tails[i].size()));
    const int64_t capacity = static_cast<int64_t>(prefix_ids.size() + longest) + 1;
    Decoder decoder = prefix ? prefix->expand(n, capacity) : Decoder(ModelAccess::parts(model).transformer, n, capacity);
    std::vector<std::vector<int>> first(n);
    for (int64_t i = 0; i < n; ++i) {
      if (!prefix) first[i] = prefix_ids;
      first[i].insert(first[i].end(), bodies[i].begin(), bodies[i].end());
      if (!generate_cot) first[i].insert(first[i].end(), tails[i].begin(), tails[i].end());
    }
    decoder.append(first);
    if (generate_cot) {
      GeneratedTails g = generate_tails(decoder, rows, out);
      if (options.pooling == Pooling::Mean)
        return write_rows(pooled_forward(full_sequences(bodies, g.tails)), rows, out);
      decoder.append(g.closing);
    }
    write_rows(decoder.last_hidden(), rows, out);
  }

  // Whether a call of n texts goes to the scheduler: larger calls are batches already.
  bool scheduled(size_t n) const { return scheduler && n > 0 && n <= static_cast<size_t>(options.batch_size); }

  // Submits whole sequences to the scheduler and writes their rows (and generated CoTs).
  void embed_scheduled(BatchScheduler::Kind kind, std::vector<std::vector<int>> seqs, const std::vector<size_t>& rows,
                       Embeddings& out) const {
    const size_t n = seqs.size();
    std::vector<BatchScheduler::Result> results = scheduler->run(kind, std::move(seqs));
    std::vector<at::Tensor> hidden;
    for (size_t i = 0; i < n; ++i) {
      hidden.push_back(results[i].hidden);
      if (kind == BatchScheduler::Kind::Reason) end_row_cot(results[i].generated, rows[i], out);
    }
    write_rows(at::stack(hidden), rows, out);
    if (options.progress) options.progress(n, n);
  }

  // Runs embed_query_batch over batch_size chunks of the given rows, reporting progress, or
  // hands a small call to the scheduler.
  void embed_query_rows(const std::vector<std::vector<int>>& bodies, const std::vector<std::vector<int>>& tails,
                        const std::vector<size_t>& rows, Embeddings& out) const {
    c10::InferenceMode guard;
    if (scheduled(bodies.size())) {
      std::vector<std::vector<int>> seqs(bodies.size(), prefix ? std::vector<int>{} : prefix_ids);
      for (size_t i = 0; i < bodies.size(); ++i) {
        seqs[i].insert(seqs[i].end(), bodies[i].begin(), bodies[i].end());
        if (!tails.empty()) seqs[i].insert(seqs[i].end(), tails[i].begin(), tails[i].end());
      }
      return embed_scheduled(tails.empty() ? BatchScheduler::Kind::Reason : BatchScheduler::Kind::Query,
                             std::move(seqs), rows, out);
    }
    const size_t batch = static_cast<size_t>(options.batch_size);
    for (size_t start = 0; start < bodies.size(); start += batch) {
      const size_t end = std::min(bodies.size(), start + batch);
      std::vector<std::vector<int>> chunk(bodies.begin() + start, bodies.begin() + end);
      std::vector<std::vector<int>> chunk_tails;
      if (!tails.empty()) chunk_tails.assign(tails.begin() + start, tails.begin() + end);
      embed_query_batch(chunk, chunk_tails, std::vector<size_t>(rows.begin() + start, rows.begin() + end), out);
      if (options.progress) options.progress(end, bodies.size());
    }
  }

  std::string cache_key(const std::vector<int>& body, QueryMode mode) const {
    std::string key = model.fingerprint();
    key += to_string(mode);
    key += std::to_string(max_cot);
    key.append(reinterpret_cast<const char*>(body.data()), body.size() * sizeof(int));
    return key;
  }

  Model model;
  EmbedderOptions options;
  int max_cot = 16;
  int64_t dim = 0;
  std::vector<int> prefix_ids;
  std::optional<Decoder> prefix;  // the shared query-template prefix, computed once
  mutable CotCache cache;
  std::unique_ptr<BatchScheduler> scheduler;  // last: it points at the model and prefix above
};

Embedder::Embedder(Model model, EmbedderOptions options)
    : impl_(std::make_shared<Impl>(std::move(model), std::move(options))) {}

namespace {

Embeddings empty_embeddings(size_t rows, int64_t dim) {
  Embeddings out;
  out.rows = static_cast<int64_t>(rows);
  out.dim = dim;
  out.data.assign(out.rows * out.dim, 0.0f);
  out.cots.assign(rows, "");
  out.truncated.assign(rows, false);
  return out;
}

}  // namespace

Embeddings Embedder::embed_queries(const std::vector<std::string>& queries, QueryMode mode) const {
  const Impl& m = *impl_;
  const PromptFormat& prompt = ModelAccess::parts(m.model).prompt();
  if (mode == QueryMode::Auto)
    throw InvalidArgument("mode \"auto\" chooses between reason and direct from search results: use "
                          "Retriever::search (Python: Retriever.search), or embed with \"reason\" or \"direct\"");
  if (mode == QueryMode::Reason) prompt.require_think("reason mode");
  Embeddings out = empty_embeddings(queries.size(), m.dim);

  // Only greedy CoTs are deterministic, so only they are cached.
  const bool cacheable = mode == QueryMode::Reason && m.options.temperature == 0.0f && m.options.cot_cache_capacity > 0;
  std::vector<std::vector<int>> bodies;
  std::vector<size_t> rows;
  std::vector<std::string> keys;
  for (size_t i = 0; i < queries.size(); ++i) {
    check_text(queries[i], "query");
    PromptIds body = prompt.query_body(queries[i]);
    out.truncated[i] = body.truncated;
    if (cacheable) {
      std::string key = m.cache_key(body.ids, mode);
      if (auto hit = m.cache.get(key)) {
        out.cots[i] = hit->cot;
        std::copy(hit->embedding.begin(), hit->embedding.begin() + m.dim, out.data.begin() + i * m.dim);
        continue;
      }
      keys.push_back(std::move(key));
    }
    bodies.push_back(std::move(body.ids));
    rows.push_back(i);
  }
  std::vector<std::vector<int>> tails;  // empty: generate
  if (mode == QueryMode::Direct) tails.assign(bodies.size(), prompt.direct_tail());
  m.embed_query_rows(bodies, tails, rows, out);
  for (size_t j = 0; j < keys.size(); ++j) {
    size_t i = rows[j];
    m.cache.put(keys[j], {out.cots[i], std::vector<float>(out.row(i), out.row(i) + m.dim)});
  }
  return out;
}

Embeddings Embedder::embed_queries_with_cots(const std::vector<std::string>& queries,
                                             const std::vector<std::string>& cots) const {
  const Impl& m = *impl_;
  if (queries.size() != cots.size())
    throw InvalidArgument("embed_queries_with_cots: " + std::to_string(queries.size()) + " queries but " +
                          std::to_string(cots.size()) + " CoTs; give one CoT per query");
  const PromptFormat& prompt = ModelAccess::parts(m.model).prompt();
  Embeddings out = empty_embeddings(queries.size(), m.dim);
  std::vector<std::vector<int>> bodies(queries.size()), tails(queries.size());
  std::vector<size_t> rows(queries.size());
  std::iota(rows.begin(), rows.end(), 0);
  for (size_t i = 0; i < queries.size(); ++i) {
    check_text(queries[i], "query");
    if (!is_valid_utf8(cots[i])) throw InvalidArgument("the CoT of query " + std::to_string(i) + " is not valid UTF-8");
    PromptIds body = prompt.query_body(queries[i]);
    out.truncated[i] = body.truncated;
    bodies[i] = std::move(body.ids);
    PromptIds tail = prompt.cot_completion(cots[i], m.max_cot);  // CoT ids (cut to the cap), </think>, <emb>
    tails[i] = std::move(tail.ids);
    out.cots[i] = tail.truncated ? m.model.tokenizer().decode({tails[i].begin(), tails[i].end() - 2}, true) : cots[i];
    out.truncated[i] = out.truncated[i] || tail.truncated;
  }
  m.embed_query_rows(bodies, tails, rows, out);
  return out;
}

Embeddings Embedder::embed_items(const std::vector<std::string>& titles) const {
  const Impl& m = *impl_;
  const PromptFormat& prompt = ModelAccess::parts(m.model).prompt();
  Embeddings out = empty_embeddings(titles.size(), m.dim);
  std::vector<std::vector<int>> seqs(titles.size());
  for (size_t i = 0; i < titles.size(); ++i) {
    check_text(titles[i], "item title");
    PromptIds ids = prompt.item(titles[i]);
    out.truncated[i] = ids.truncated;
    seqs[i] = std::move(ids.ids);
  }
  c10::InferenceMode guard;
  if (m.scheduled(seqs.size())) {
    std::vector<size_t> rows(seqs.size());
    std::iota(rows.begin(), rows.end(), 0);
    m.embed_scheduled(BatchScheduler::Kind::Item, std::move(seqs), rows, out);
    return out;
  }
  // Batches of similar length keep padding small.
  std::vector<size_t> order(titles.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return seqs[a].size() < seqs[b].size(); });

  const size_t batch = static_cast<size_t>(m.options.batch_size);
  for (size_t start = 0; start < order.size(); start += batch) {
    const size_t end = std::min(order.size(), start + batch);
    std::vector<size_t> rows(order.begin() + start, order.begin() + end);
    std::vector<std::vector<int>> chunk;
    chunk.reserve(rows.size());
    for (size_t r : rows) chunk.push_back(std::move(seqs[r]));
    m.write_rows(m.pooled_forward(chunk), rows, out);
    if (m.options.progress) m.options.progress(end, order.size());
  }
  return out;
}

int Embedder::dim() const { return static_cast<int>(impl_->dim); }
const Model& Embedder::model() const { return impl_->model; }
std::string Embedder::fingerprint() const {
  // The default pooling keeps the bare model fingerprint, so existing indexes stay valid.
  const std::string model = impl_->model.fingerprint();
  return impl_->options.pooling == Pooling::Last ? model : model + "+pooling=" + to_string(impl_->options.pooling);
}
const EmbedderOptions& Embedder::options() const { return impl_->options; }
CacheStats Embedder::cot_cache_stats() const { return impl_->cache.stats(); }
BatchingStats Embedder::batching_stats() const { return impl_->scheduler ? impl_->scheduler->stats() : BatchingStats{}; }
void Embedder::clear_cot_cache() { impl_->cache.clear(); }

}  // namespace lrem
