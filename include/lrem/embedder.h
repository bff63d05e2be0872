// Query and item embeddings from one LLM, as LREM defines them.
//
//   reason mode (queries): the model writes a short chain of thought after <think>, at most
//     max_cot_tokens tokens, ending at </think> (appended if the cap is hit: the rule GRPO
//     trains under, src/model/cot.h); then <emb> is
//     fed and its final-layer hidden state, L2-normalised, is the embedding. The <emb> state
//     comes from the same KV cache that produced the CoT: nothing is recomputed.
//   direct mode (queries, the paper's Empty-CoT baseline): <think></think><emb>, no generation.
//   items: title <emb>, always direct.
//
// Pooling: the embedding is the hidden state at <emb> (the default, the paper's "Uni-Attn
// Last"), or with Pooling::Mean the mean of the final hidden states over every real token
// of the sequence (template, text, CoT, </think>, <emb>), a common baseline. Mean pooling
// needs every position's state, so reason mode then runs one extra full forward over the
// finished sequence after generating its CoT.
//
// Thread safety: an Embedder is immutable apart from its CoT cache, which has its own lock
// (and its batching queue, see EmbedderOptions::batching); any number of threads may call
// embed_* concurrently. Copies are cheap handles that share
// the model, the prefix cache and the CoT cache.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lrem/model.h"

namespace lrem {

// Auto is a retrieval mode (Retriever::search): a query whose direct-mode results look
// confident keeps them, the others are embedded again with reasoning. Embedder refuses it.
enum class QueryMode { Reason, Direct, Auto };

// "reason" / "direct" / "auto"; InvalidArgument otherwise.
QueryMode parse_query_mode(const std::string& name);
const char* to_string(QueryMode mode);

enum class Pooling { Last, Mean };

// "last" / "mean"; InvalidArgument otherwise.
Pooling parse_pooling(const std::string& name);
const char* to_string(Pooling pooling);

struct EmbedderOptions {
  int batch_size = 32;       // sequences per forward pass
  int max_cot_tokens = 0;    // 0: the model's prompt config (default 16)
  float temperature = 0.0f;  // CoT sampling; 0 = greedy (the default, and the only mode that is cached)
  int top_k = 0;
  float top_p = 1.0f;
  uint64_t seed = 0;
  int output_dim = 0;              // Matryoshka-style truncation then re-normalisation; 0 = full
  size_t cot_cache_capacity = 4096;  // LRU entries; 0 disables the cache
  bool prefix_cache = true;        // compute the shared query-template prefix once
  Pooling pooling = Pooling::Last;  // see the top of this file
  // Continuous batching across calls (the LLM servers' iteration-level scheduling): calls
  // from many threads share forward passes. A reason-mode query joins the queries already
  // generating at their next decode step and leaves when its CoT ends; direct-mode queries,
  // queries with given CoTs and items waiting together share one forward pass. At most
  // batch_size sequences decode together. Each query gets the CoT and embedding it gets
  // when embedded alone (sampling included: its own generator, seeded with `seed`).
  // Applies to calls of at most batch_size texts (larger ones are batches already) with
  // Pooling::Last. The callers' own threads run the model, one at a time, for all of them.
  bool batching = false;
  // With batching: how long a call finding the model idle waits for more requests before it
  // starts a batch. Requests arriving while it computes join at the next step whatever this is.
  int max_wait_ms = 0;
  // Called after each batch on long runs: (done, total).
  std::function<void(size_t, size_t)> progress;
};

// Row-major float32 matrix of L2-normalised embeddings, one row per input.
struct Embeddings {
  int64_t rows = 0;
  int64_t dim = 0;
  std::vector<float> data;
  std::vector<std::string> cots;   // queries in reason mode: the generated CoT; else empty strings
  std::vector<bool> truncated;     // the input text (or a given CoT) was cut to the prompt config's token limit
  const float* row(int64_t i) const { return data.data() + i * dim; }
};

// What continuous batching did so far (EmbedderOptions::batching; all zero without it).
struct BatchingStats {
  uint64_t sequences = 0;     // sequences embedded through the scheduler
  uint64_t prefills = 0;      // forward passes over newcomers (each shared by all that arrived together)
  uint64_t decode_steps = 0;  // forward passes of the running batch
  uint64_t decode_rows = 0;   // rows summed over those steps: / decode_steps = the mean batch
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t size = 0;
  size_t capacity = 0;
};

class Embedder {
 public:
  explicit Embedder(Model model, EmbedderOptions options = {});

  // Throws InvalidArgument for an empty or whitespace-only query or invalid UTF-8.
  Embeddings embed_queries(const std::vector<std::string>& queries, QueryMode mode = QueryMode::Reason) const;
  Embeddings embed_items(const std::vector<std::string>& titles) const;
  // Queries with the given chains of thought instead of generated ones (teacher CoTs, the
  // CoT ablations): query <think> cot </think><emb>. Each CoT is tokenized and cut to
  // max_cot_tokens as stage-1 training does with its targets; `cots` echoes them (the kept
  // part of a cut one, which also sets `truncated`). An empty CoT is direct mode. Passing
  // the CoTs that reason mode generated gives reason mode's embeddings (when their text
  // re-tokenizes to the same ids). Not cached.
  // InvalidArgument if the sizes differ, a query is empty, or a text is not UTF-8;
  // LimitExceeded if a sequence outgrows the model's max_position_embeddings.
  Embeddings embed_queries_with_cots(const std::vector<std::string>& queries, const std::vector<std::string>& cots) const;

  int dim() const;  // output dimension
  // Names the embedding space: the model's fingerprint, plus the pooling when it is not the
  // default `<emb>` state. Indexes record it, so vectors pooled one way are never searched with
  // queries pooled another way (output_dim is caught by dim()).
  std::string fingerprint() const;
  const Model& model() const;
  const EmbedderOptions& options() const;
  CacheStats cot_cache_stats() const;
  BatchingStats batching_stats() const;
  void clear_cot_cache();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lrem
