#include "train/distributed.h"

#include <ATen/core/grad_mode.h>

#include <vector>

#include "lrem/error.h"

// Debian's libtorch exports c10d's Gloo process group; its header needs libgloo-dev and the
// USE_C10D_GLOO switch that libtorch itself was built with.
#if __has_include(<gloo/context.h>)
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#define LREM_HAVE_GLOO 1
#endif

namespace lrem::train {

#ifdef LREM_HAVE_GLOO
struct DataParallel::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
};
#else
struct DataParallel::Group {};
#endif

DataParallel::DataParallel(int world_size, int rank, const std::string& master_addr, int master_port)
    : world_size_(world_size), rank_(rank) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw InvalidArgument("distributed: need world_size >= 1 and 0 <= rank < world_size (got world_size " +
                          std::to_string(world_size) + ", rank " + std::to_string(rank) + ")");
  if (world_size == 1) return;
  if (master_port <= 0 || master_port > 65535)
    throw InvalidArgument("distributed: master_port must be in 1..65535");
#ifdef LREM_HAVE_GLOO
  c10d::TCPStoreOptions store_options;
  store_options.port = uint16_t(master_port);
  store_options.isServer = rank == 0;
  store_options.numWorkers = world_size;
  store_options.waitWorkers = false;
  auto store = c10::make_intrusive<c10d::TCPStore>(master_addr, store_options);
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(master_addr));
  group_ = std::make_unique<Group>();
  group_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options);
#else
  throw InvalidArgument("distributed: this lrem was built without Gloo (install libgloo-dev and rebuild) "
                        "so world_size must be 1");
#endif
}

DataParallel::~DataParallel() = default;

namespace {

std::vector<at::Tensor> grads_of(const std::map<std::string, at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const auto& [name, p] : params) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace

void DataParallel::all_reduce_gradients(const std::map<std::string, at::Tensor>& params) {
  if (world_size_ == 1) return;
#ifdef LREM_HAVE_GLOO
  at::NoGradGuard no_grad;
  // One flat buffer: a single collective instead of one per tensor.
  const std::vector<at::Tensor> grads = grads_of(params);
  std::vector<at::Tensor> views;
  views.reserve(grads.size());
  for (const auto& g : grads) views.push_back(g.reshape(-1));
  std::vector<at::Tensor> flat{at::cat(views)};
  group_->pg->allreduce(flat)->wait();
  flat[0].div_(world_size_);
  int64_t offset = 0;
  for (const auto& g : grads) {
    g.copy_(flat[0].narrow(0, offset, g.numel()).view_as(g));
    offset += g.numel();
  }
#endif
}

void DataParallel::broadcast_parameters(const std::map<std::string, at::Tensor>& params) {
  if (world_size_ == 1) return;
#ifdef LREM_HAVE_GLOO
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : params) {
    std::vector<at::Tensor> buf{p.detach().contiguous()};
    group_->pg->broadcast(buf)->wait();
    p.detach().copy_(buf[0]);
  }
#endif
}

at::Tensor DataParallel::all_gather(const at::Tensor& local) {
  const at::Tensor input = local.detach().contiguous();
  if (world_size_ == 1) return input;
#ifdef LREM_HAVE_GLOO
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < world_size_; ++r) outputs[0].push_back(at::empty_like(input));
  std::vector<at::Tensor> inputs{input};
  group_->pg->allgather(outputs, inputs)->wait();
  return at::cat(outputs[0]);
#else
  return input;
#endif
}

std::map<std::string, double> DataParallel::mean(const std::map<std::string, double>& values) {
  if (world_size_ == 1) return values;
  std::map<std::string, double> out = values;
#ifdef LREM_HAVE_GLOO
  std::vector<double> flat;
  flat.reserve(values.size());
  for (const auto& [k, v] : values) flat.push_back(v);
  std::vector<at::Tensor> buf{at::tensor(flat, at::kDouble)};
  group_->pg->allreduce(buf)->wait();
  size_t i = 0;
  for (auto& [k, v] : out) v = buf[0][int64_t(i++)].item<double>() / world_size_;
#endif
  return out;
}

void DataParallel::barrier() {
  if (world_size_ == 1) return;
#ifdef LREM_HAVE_GLOO
  group_->pg->barrier()->wait();
#endif
}

void DataParallel::require_same(uint64_t value, const std::string& what) {
  if (world_size_ == 1) return;
#ifdef LREM_HAVE_GLOO
  // Max and min of the value (as two int64 halves, exact) agree iff every rank has it.
  const int64_t hi = int64_t(value >> 32), lo = int64_t(value & 0xffffffffu);
  std::vector<at::Tensor> high{at::tensor({hi, lo, -hi, -lo}, at::kLong)};
  c10d::AllreduceOptions max;
  max.reduceOp = c10d::ReduceOp::MAX;
  group_->pg->allreduce(high, max)->wait();
  const auto r = high[0];
  if (r[0].item<int64_t>() != hi || r[1].item<int64_t>() != lo || -r[2].item<int64_t>() != hi ||
      -r[3].item<int64_t>() != lo)
    throw InvalidArgument("distributed: the ranks disagree on " + what + "; start every rank with the same options");
#endif
}

}  // namespace lrem::train
