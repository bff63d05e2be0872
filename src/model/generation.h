// The decoding engine behind Model::generate and the embedder's chain-of-thought sampling.
//
// Pieces, usable separately:
//   Decoder  - one batch's incremental state (KV cache, attention mask, per-row positions,
//              each row's last hidden state). append() feeds any number of tokens per row
//              in one forward pass; the prompt is computed once (prefill = the first append)
//              and never again. expand() turns a batch-1 shared prefix into a batch.
//   Sampler  - greedy / temperature + top-k + top-p sampling with the call's own generator.
//   generate - the loop: sample from the decoder's last logits, feed the sampled token of
//              every unfinished row, stop rows on stop ids or max_new_tokens.
//
// Typical embedder use (under c10::InferenceMode):
//   Decoder d = prefix_decoder.expand(n, capacity);   // or Decoder(model, n, capacity)
//   d.append(query_bodies);                            // rows of different lengths
//   auto cot = generate(d, cot_generation(...));      // model/cot.h: the CoT rule
//   d.append(per row: closed ? {<emb>} : {</think>, <emb>});  // over-long: discard_queued first
//   at::Tensor embeddings = d.last_hidden();           // [n, hidden] at <emb>
//
// Internal header (torch).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lrem/generation.h"
#include "model/transformer.h"

namespace lrem {

class Decoder {
 public:
  // An empty state for `batch` rows with room for `capacity` positions in total (the longest
  // row's tokens plus padding). The transformer must outlive the decoder.
  Decoder(const Transformer& model, int64_t batch, int64_t capacity);

  // A decoder whose `batch` rows all continue this batch-1 decoder's sequence; keys and
  // values are copied, not recomputed. capacity counts the prefix too.
  Decoder expand(int64_t batch, int64_t capacity) const;

  // Feeds tokens[b] to row b, all rows in one forward pass. Rows may get different numbers
  // of tokens (zero included): shorter rows are padded at the front of this chunk with masked
  // positions, so every row's result equals feeding it alone. Tokens queued by generate()
  // go first. Returns last_hidden(). LimitExceeded if the cache or max_position_embeddings
  // would overflow, InvalidArgument for a wrong number of rows or an out-of-range id.
  const at::Tensor& append(const std::vector<std::vector<int>>& tokens);
  // Feeds the queued tokens (append with nothing new).
  void flush();
  // Queues tokens to be fed with the next append/flush. generate() leaves each row's final
  // token here: a caller who stops there never pays for its forward pass.
  void queue(const std::vector<std::vector<int>>& tokens);
  bool has_queued() const;
  // Drops row b's queued tokens unfed (a generated token past a cap the caller enforces).
  void discard_queued(int64_t b) { queued_.at(b).clear(); }

  // Continuous batching: rows join and leave between forward passes, each keeping its own
  // positions and mask, so every row's results stay those of decoding it alone.
  // Appends the rows of `other` (same model) after this decoder's, aligned at their last
  // fed position (the shorter side's front becomes masked padding). Spare rows and
  // positions are reused; the buffers are rebuilt only when they lack room.
  void join(const Decoder& other);
  // Keeps the given rows (ascending indices), in that order; the others are dropped.
  void keep_rows(const std::vector<int64_t>& rows);
  // Makes room for `more` positions after length(): drops leading positions no row uses,
  // and grows the buffers if that is not enough.
  void reserve(int64_t more);

  // [B, hidden]: the final-norm hidden state of each row's last fed token (zeros for a row
  // never fed). InvalidArgument while tokens are queued (flush first).
  const at::Tensor& last_hidden() const;
  // [B, vocab] float32 logits of last_hidden().
  at::Tensor last_logits() const;

  const Transformer& model() const { return *model_; }
  int64_t batch() const { return cache_.batch(); }
  int64_t capacity() const { return cache_.capacity(); }
  int64_t length() const { return cache_.length(); }  // positions used, padding included
  // Real tokens fed to row b so far (= the position id of its next token).
  int64_t row_length(int64_t b) const { return positions_.at(b); }
  const KVCache& cache() const { return cache_; }

 private:
  Decoder(const Transformer* model, KVCache cache, at::Tensor mask, std::vector<int64_t> positions,
          at::Tensor last_hidden, std::vector<std::vector<int>> queued);
  void check_rows(size_t rows, const char* what) const;
  at::Tensor rows_mask() const { return mask_.narrow(0, 0, batch()); }  // [batch, capacity]
  // New buffers for `rows` rows and `capacity` positions holding this decoder's rows, their
  // positions from `first` on moved to end at `length` (first <= length() - (length - first)).
  void relayout(int64_t rows, int64_t capacity, int64_t first, int64_t length);
  // The first position any row uses (length() when none does).
  int64_t first_used() const;

  const Transformer* model_;
  KVCache cache_;
  at::Tensor mask_;                  // [row capacity, capacity] bool, true = real token
  std::vector<int64_t> positions_;   // per row: next position id
  at::Tensor last_hidden_;           // [B, hidden] float32
  std::vector<std::vector<int>> queued_;
};

// Picks each row's next token from its logits: argmax (first maximum) when temperature is 0,
// else softmax(logits / temperature) restricted to the top_k most likely tokens and to the
// smallest set whose probability reaches top_p (never empty), sampled with a generator seeded
// from options.seed. Computed in float32 on the CPU, so a seed gives the same draws everywhere.
class Sampler {
 public:
  explicit Sampler(const GenerationOptions& options);
  std::vector<int> next(const at::Tensor& logits);  // logits [B, vocab]

 private:
  float temperature_, top_p_;
  int top_k_;
  at::Generator generator_;
};

struct Continuation {
  std::vector<int> token_ids;  // new tokens, including the stop token if one was emitted
  std::string finish_reason;   // "stop" or "length"
};

// How a row's generation ends: after emitting one of options.stop_ids ("stop") or
// options.max_new_tokens tokens ("length"). One rule for generate() and continuous batching.
class StopRule {
 public:
  explicit StopRule(const GenerationOptions& options);
  // Appends `token` to `c`; true (with c.finish_reason set) when that ends it.
  bool add(Continuation& c, int token) const;

 private:
  std::set<int> stops_;
  int max_new_tokens_;
};

// Continues every row of the decoder from its current state for up to
// options.max_new_tokens tokens; a row ends after emitting one of options.stop_ids.
// stop_at_eos and add_bos are the caller's business (they depend on the tokenizer): put the
// EOS id into stop_ids. Afterwards the decoder holds every emitted token (each row's last one
// queued). Rows that finished are fed masked padding while others continue. Every row must
// have been fed at least one token. Call under c10::InferenceMode.
std::vector<Continuation> generate(Decoder& decoder, const GenerationOptions& options);

// Prefill + generate for a batch of prompts (token ids, no padding, each non-empty) in one
// decoder sized for them; runs under c10::InferenceMode.
std::vector<Continuation> generate(const Transformer& model, const std::vector<std::vector<int>>& prompts,
                                   const GenerationOptions& options);

}  // namespace lrem
