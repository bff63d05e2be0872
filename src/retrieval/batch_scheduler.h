// Continuous batching for an Embedder (EmbedderOptions::batching), the iteration-level
// scheduling of LLM servers: one caller at a time (the leader) runs the forward passes for
// every caller.
//
//   - Reason-mode queries share decode steps. A query that arrives while others generate is
//     prefilled (with the other newcomers) and joins the running batch at the next step; a
//     query whose chain of thought ends is fed `</think><emb>` in that step's forward pass and
//     leaves with its <emb> state. Each row keeps its own positions and attention mask
//     (Decoder::join / keep_rows), and samples with its own generator seeded from the options,
//     so a query gets the CoT and embedding it gets when embedded alone.
//   - Sequences that need no generation (direct-mode queries, queries with given CoTs, items)
//     are micro-batched: those waiting when the leader turns to them share one forward pass.
//
// Latency: a request joins at the next step: it waits at most one forward pass (plus
// max_wait_ms when the model was idle, to gather company; 0 = start at once). At most
// max_rows sequences decode together; the rest queue in arrival order.
//
// Leader and followers, not a worker thread: a caller that finds no one computing computes
// itself, for everyone, until its own sequences are done, then hands the running batch to a
// caller still waiting. So a lone request never waits for another thread to be scheduled:
// with a worker thread every request cost two cross-thread wake-ups (caller to worker and
// back), which on a busy machine made the demo model's 1-client p50 26 ms against 17 ms
// unbatched (docs/SERVING.md, "Continuous batching").
//
// Internal header (torch).
#pragma once

#include <ATen/ATen.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "lrem/embedder.h"
#include "model/generation.h"

namespace lrem {

struct BatchSpec {
  const Transformer* model = nullptr;
  const Decoder* prefix = nullptr;  // the shared query prefix (batch 1), or null: query tokens start with it
  GenerationOptions cot;            // the CoT rule's options (cot_generation: max_cot_tokens + 1, stop at </think>)
  int think_close_id = -1, emb_id = -1;
  int max_rows = 32;                // sequences in one forward pass
  int max_wait_ms = 0;
};

class BatchScheduler {
 public:
  enum class Kind {
    Reason,  // query tokens after the prefix up to <think>: a CoT is generated, then </think><emb>
    Query,   // query tokens after the prefix, ending at <emb>
    Item,    // a whole sequence ending at <emb>, without the query prefix
  };
  struct Result {
    at::Tensor hidden;           // [hidden_size] float32: the final state at <emb>
    std::vector<int> generated;  // Reason: the generated tokens (Continuation::token_ids)
  };

  explicit BatchScheduler(BatchSpec spec);
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // Submits the sequences together and blocks until all are done, computing on the calling
  // thread whenever no other caller does; thread-safe. Rethrows what failed (LimitExceeded
  // for a sequence that cannot fit the model's positions).
  std::vector<Result> run(Kind kind, std::vector<std::vector<int>> sequences);
  BatchingStats stats() const;

 private:
  struct Job {
    Kind kind;
    std::vector<int> tokens;
    std::promise<Result> done;
  };
  struct Row {  // a generating sequence of the running batch
    std::unique_ptr<Job> job;
    Sampler sampler;
    Continuation generated;
  };

  // The leader's loop (entered and left holding `lock`): forward passes for everyone until
  // `mine` are all done.
  void lead(std::unique_lock<std::mutex>& lock, const std::vector<std::future<Result>>& mine);
  // Prefills the jobs (taking them out of `jobs`): the others are done, Reason ones join.
  void admit(std::vector<std::unique_ptr<Job>>& jobs);
  Decoder prefill(const std::vector<std::unique_ptr<Job>>& jobs, Kind kind, int64_t room) const;
  void step();
  void fail_all(const std::exception_ptr& error, std::vector<std::unique_ptr<Job>>& pending);

  const BatchSpec spec_;
  const StopRule rule_;
  const int64_t prefix_length_;
  mutable std::mutex mutex_;
  BatchingStats stats_;  // under mutex_
  // Jobs arrived, results were set or the leader left: waiting callers re-check.
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Job>> queue_;  // under mutex_
  bool leading_ = false;                    // under mutex_: a caller is computing
  // The leader's own state, handed over under mutex_ with the leadership.
  std::optional<Decoder> running_;
  std::vector<Row> rows_;
};

}  // namespace lrem
