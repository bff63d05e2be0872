// At most `slots` holders at once, and at most `max_queue` waiting for a turn; anyone beyond
// that is turned away at once rather than queued (the server answers them 503 with
// Retry-After: load shedding, docs/SERVING.md). Bounds how many requests run the model
// together, whatever the number of connection threads, and how long a queue can grow.
#pragma once

#include <condition_variable>
#include <mutex>

namespace lrem {

class ComputeSlots {
 public:
  ComputeSlots(int slots, int max_queue) : free_(slots), slots_(slots), max_queue_(max_queue) {}

  // Takes a slot, waiting in the queue if there is room there; test with operator bool.
  class Turn {
   public:
    explicit Turn(ComputeSlots& s) : s_(s) {
      std::unique_lock<std::mutex> lock(s_.mu_);
      if (s_.free_ == 0 && s_.waiting_ >= s_.max_queue_) return;
      ++s_.waiting_;
      s_.cv_.wait(lock, [this] { return s_.free_ > 0; });
      --s_.waiting_;
      --s_.free_;
      held_ = true;
    }
    ~Turn() {
      if (!held_) return;
      {
        std::lock_guard<std::mutex> lock(s_.mu_);
        ++s_.free_;
      }
      s_.cv_.notify_one();
    }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    explicit operator bool() const { return held_; }

   private:
    ComputeSlots& s_;
    bool held_ = false;
  };

  int busy() const {
    std::lock_guard<std::mutex> lock(mu_);
    return slots_ - free_;
  }
  int waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  int slots() const { return slots_; }
  int max_queue() const { return max_queue_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int free_;
  int waiting_ = 0;
  const int slots_;
  const int max_queue_;
};

}  // namespace lrem
