// Data parallelism across processes, for training and for encoding a catalogue. Training: each
// rank computes gradients on its share of the global batch and all_reduce_gradients averages
// them, the one place where ranks exchange gradients (all_gather shares values, such as GRPO's
// reward pool of the whole batch's items). Encoding (retrieval/chunked_encoding.h): each rank
// encodes its share of the chunks and the ranks meet at barriers.
// With world_size 1 every call is a no-op. Transport: libtorch's c10d with the Gloo backend
// (CPU) and a TCPStore rendezvous hosted by rank 0 or by the launcher. It lives in model/ because both train/
// and retrieval/ use it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace lrem {

class DataParallel {
 public:
  // Blocks until all world_size ranks joined. Rank 0 listens on master_addr:master_port,
  // unless `launcher_store_prefix` is set: then the launcher already hosts the store there
  // (torchrun's agent does) and every rank joins it as a client, under that key prefix.
  // InvalidArgument for a bad rank/world size or when this build lacks Gloo; lrem::Error when
  // rank 0 cannot listen (the port is taken) or a rank cannot reach the store.
  // Before joining the Gloo group every rank checks, through the store, that all ranks were
  // given the same world_size (InvalidArgument naming both values otherwise), so a mistyped
  // launcher fails on every rank instead of hanging in the rendezvous.
  DataParallel(int world_size, int rank, const std::string& master_addr, int master_port,
               const std::string& launcher_store_prefix = "");
  // The group a launcher such as torchrun describes in the environment: RANK, WORLD_SIZE,
  // MASTER_ADDR (default 127.0.0.1), MASTER_PORT (default 29500), and torchrun's
  // TORCHELASTIC_USE_AGENT_STORE / TORCHELASTIC_RESTART_COUNT (the store its agent hosts, with
  // the key prefix torch.distributed uses). Without WORLD_SIZE, one process (world_size 1).
  // InvalidArgument naming the variable for a malformed value.
  static std::unique_ptr<DataParallel> from_environment();
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int world_size() const { return world_size_; }
  int rank() const { return rank_; }
  bool is_main() const { return rank_ == 0; }

  // Replaces every gradient by its mean over ranks (a missing gradient counts as zeros).
  void all_reduce_gradients(const std::map<std::string, at::Tensor>& params);
  // Copies rank 0's parameters to every rank, so all start from identical weights.
  void broadcast_parameters(const std::map<std::string, at::Tensor>& params);
  // Every rank's `local` (same shape on all ranks) concatenated along dim 0 in rank order;
  // no gradient flows through it.
  at::Tensor all_gather(const at::Tensor& local);
  // Mean over ranks of per-rank scalars (for logging).
  std::map<std::string, double> mean(const std::map<std::string, double>& values);
  void barrier();
  // Runs `step` on this rank, then the ranks learn together whether it failed anywhere: a
  // rank whose step threw rethrows its exception, the others throw lrem::Error saying which
  // ranks failed, so no rank waits forever at the next collective for one that died.
  void collectively(const std::function<void()>& step);
  // Sum over ranks of a per-rank count.
  int64_t sum(int64_t value);
  // InvalidArgument on every rank unless all ranks pass the same value: ranks that disagree
  // on the schedule of collectives would otherwise deadlock or abort inside Gloo.
  void require_same(uint64_t value, const std::string& what);

 private:
  struct Group;
  int world_size_, rank_;
  std::unique_ptr<Group> group_;
};

}  // namespace lrem
