#include "retrieval/batch_scheduler.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>

#include "lrem/error.h"

namespace lrem {

namespace {

template <class T>
bool all_ready(const std::vector<std::future<T>>& futures) {
  return std::all_of(futures.begin(), futures.end(),
                     [](const auto& f) { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
}

}  // namespace

BatchScheduler::BatchScheduler(BatchSpec spec)
    : spec_(std::move(spec)), rule_(spec_.cot), prefix_length_(spec_.prefix ? spec_.prefix->length() : 0) {
  if (!spec_.model) throw InvalidArgument("BatchScheduler needs a model");
  if (spec_.max_rows <= 0) throw InvalidArgument("batch_size must be positive");
  if (spec_.max_wait_ms < 0) throw InvalidArgument("max_wait_ms must be >= 0, got " + std::to_string(spec_.max_wait_ms));
}

std::vector<BatchScheduler::Result> BatchScheduler::run(Kind kind, std::vector<std::vector<int>> sequences) {
  std::vector<std::future<Result>> futures;
  futures.reserve(sequences.size());
  std::unique_lock<std::mutex> lock(mutex_);
  for (auto& tokens : sequences) {
    auto job = std::make_unique<Job>(Job{kind, std::move(tokens), {}});
    futures.push_back(job->done.get_future());
    queue_.push_back(std::move(job));
  }
  if (spec_.max_wait_ms > 0) changed_.notify_all();  // a leader gathering company counts them
  // Every unfinished job belongs to a caller waiting here, so when a leader leaves with work
  // left, one of them takes over.
  while (!all_ready(futures)) {
    if (leading_) {
      changed_.wait(lock);
      continue;
    }
    leading_ = true;
    try {
      lead(lock, futures);
    } catch (...) {
      // Whatever failed outside a step's own handling (out of memory...), the model must not
      // stay marked as taken, or every waiting caller would wait forever: hand it over.
      if (!lock.owns_lock()) lock.lock();
      leading_ = false;
      changed_.notify_all();
      throw;
    }
    leading_ = false;
    changed_.notify_all();
  }
  lock.unlock();
  std::vector<Result> out;
  out.reserve(futures.size());
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

BatchingStats BatchScheduler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void BatchScheduler::lead(std::unique_lock<std::mutex>& lock, const std::vector<std::future<Result>>& mine) {
  c10::InferenceMode inference;
  while (!all_ready(mine)) {
    if (rows_.empty() && spec_.max_wait_ms > 0)
      changed_.wait_for(lock, std::chrono::milliseconds(spec_.max_wait_ms),
                        [&] { return queue_.size() >= size_t(spec_.max_rows); });
    // Free rows bound the newcomers of every kind: one prefill stays one batch's size.
    std::vector<std::unique_ptr<Job>> arrivals;
    while (!queue_.empty() && rows_.size() + arrivals.size() < size_t(spec_.max_rows)) {
      arrivals.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const size_t before = rows_.size() + arrivals.size();
    lock.unlock();
    try {
      admit(arrivals);
      if (!rows_.empty()) step();
    } catch (...) {
      fail_all(std::current_exception(), arrivals);
    }
    lock.lock();
    // Results were set outside the lock; taking it first means a caller that saw its result
    // missing is already waiting when this wakes it. Steps that finish no one wake no one.
    if (rows_.size() < before) changed_.notify_all();
  }
}

Decoder BatchScheduler::prefill(const std::vector<std::unique_ptr<Job>>& jobs, Kind kind, int64_t room) const {
  const bool shared_prefix = kind != Kind::Item && spec_.prefix;
  std::vector<std::vector<int>> tokens;
  size_t longest = 0;
  for (const auto& job : jobs) {
    tokens.push_back(job->tokens);
    longest = std::max(longest, job->tokens.size());
  }
  const auto n = static_cast<int64_t>(jobs.size());
  const int64_t capacity = (shared_prefix ? prefix_length_ : 0) + static_cast<int64_t>(longest) + room;
  Decoder d = shared_prefix ? spec_.prefix->expand(n, capacity) : Decoder(*spec_.model, n, capacity);
  d.append(tokens);
  return d;
}

void BatchScheduler::admit(std::vector<std::unique_ptr<Job>>& jobs) {
  const int64_t max_positions = spec_.model->config().max_positions();
  for (Kind kind : {Kind::Item, Kind::Query, Kind::Reason}) {
    std::vector<std::unique_ptr<Job>> group;
    for (auto& job : jobs) {
      if (!job || job->kind != kind) continue;
      // A CoT of max_new_tokens - 1 fed tokens, then </think><emb>: room for max_new_tokens + 1.
      const int64_t room = kind == Kind::Reason ? spec_.cot.max_new_tokens + 1 : 0;
      const int64_t positions = (kind != Kind::Item ? prefix_length_ : 0) + int64_t(job->tokens.size()) + room;
      if (job->tokens.empty()) {
        job->done.set_exception(std::make_exception_ptr(InvalidArgument("a sequence to embed has no tokens")));
      } else if (positions > max_positions) {
        job->done.set_exception(std::make_exception_ptr(LimitExceeded(
            "a sequence of " + std::to_string(positions) + " positions (prompt, chain of thought and <emb>) exceeds the "
            "model's " + std::to_string(max_positions) + " (max_position_embeddings or sliding_window)")));
      } else {
        group.push_back(std::move(job));
      }
      job.reset();
    }
    if (group.empty()) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.sequences += group.size();
      ++stats_.prefills;
    }
    try {
      Decoder d = prefill(group, kind, kind == Kind::Reason ? spec_.cot.max_new_tokens + 1 : 0);
      if (kind != Kind::Reason) {
        const at::Tensor& hidden = d.last_hidden();
        for (size_t i = 0; i < group.size(); ++i) group[i]->done.set_value({hidden[int64_t(i)].clone(), {}});
        continue;
      }
      if (running_) running_->join(d);
      else running_.emplace(std::move(d));
    } catch (...) {
      for (auto& job : group) job->done.set_exception(std::current_exception());
      throw;  // the running batch may be half-joined: work() fails it too
    }
    for (auto& job : group) rows_.push_back(Row{std::move(job), Sampler(spec_.cot), {}});
  }
}

void BatchScheduler::step() {
  Decoder& d = *running_;
  const at::Tensor logits = d.last_logits();
  std::vector<std::vector<int>> feed(rows_.size());
  std::vector<char> ending(rows_.size(), 0);
  for (size_t b = 0; b < rows_.size(); ++b) {
    Row& row = rows_[b];
    const int token = row.sampler.next(logits.narrow(0, int64_t(b), 1)).front();
    // The CoT rule (model/cot.h): a closed or an over-long CoT both go on `</think> <emb>`
    // (the model's own `</think>` when it wrote one; the token past the cap is dropped).
    ending[b] = rule_.add(row.generated, token);
    feed[b] = ending[b] ? std::vector<int>{spec_.think_close_id, spec_.emb_id} : std::vector<int>{token};
  }
  d.reserve(2);
  const at::Tensor& hidden = d.append(feed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.decode_steps;
    stats_.decode_rows += rows_.size();
  }
  std::vector<int64_t> kept;
  std::vector<Row> staying;
  for (size_t b = 0; b < rows_.size(); ++b) {
    if (!ending[b]) {
      kept.push_back(int64_t(b));
      staying.push_back(std::move(rows_[b]));
      continue;
    }
    rows_[b].job->done.set_value({hidden[int64_t(b)].clone(), std::move(rows_[b].generated.token_ids)});
  }
  if (kept.empty()) running_.reset();  // the next arrivals start a fresh batch, no copy
  else if (kept.size() < rows_.size()) d.keep_rows(kept);
  rows_ = std::move(staying);
}

// Something failed outside one sequence's checks (e.g. out of memory): every sequence in the
// running batch or being admitted gets the error, and the next arrivals start afresh.
void BatchScheduler::fail_all(const std::exception_ptr& error, std::vector<std::unique_ptr<Job>>& pending) {
  for (Row& row : rows_) row.job->done.set_exception(error);
  for (auto& job : pending)
    if (job) job->done.set_exception(error);
  rows_.clear();
  running_.reset();
}

}  // namespace lrem
