// Data parallelism across processes: each rank computes gradients on its share of the global
// batch and all_reduce_gradients averages them, the one place where ranks exchange gradients
// (all_gather shares values, such as GRPO's reward pool of the whole batch's items).
// With world_size 1 every call is a no-op. Transport: libtorch's c10d with the Gloo backend
// (CPU) and a TCPStore rendezvous hosted by rank 0.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace lrem::train {

class DataParallel {
 public:
  // Blocks until all world_size ranks joined (rank 0 listens on master_addr:master_port).
  // InvalidArgument for a bad rank/world size or when this build lacks Gloo.
  DataParallel(int world_size, int rank, const std::string& master_addr, int master_port);
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
  // InvalidArgument on every rank unless all ranks pass the same value: ranks that disagree
  // on the schedule of collectives would otherwise deadlock or abort inside Gloo.
  void require_same(uint64_t value, const std::string& what);

 private:
  struct Group;
  int world_size_, rank_;
  std::unique_ptr<Group> group_;
};

}  // namespace lrem::train
