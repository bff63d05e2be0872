#include "model/distributed.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "lrem/error.h"

// Debian's libtorch exports c10d's Gloo process group; its header needs libgloo-dev and the
// USE_C10D_GLOO switch that libtorch itself was built with.
#if __has_include(<gloo/context.h>)
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#define LREM_HAVE_GLOO 1
#endif

namespace lrem {

#ifdef LREM_HAVE_GLOO
struct DataParallel::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  int rank = 0;

  // Waits for a collective. Gloo reports a rank that died (killed, out of memory) as a closed
  // connection or a timeout in whatever collective the others reach next; say what that means
  // and how to go on instead of passing c10's text on.
  template <typename Work>
  void wait(const Work& work, const char* collective) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      std::string cause = e.what();
      cause = cause.substr(0, cause.find('\n'));  // c10 appends a backtrace
      throw Error("distributed: rank " + std::to_string(rank) + ": the collective " + collective +
                  " failed (" + cause + "); another rank probably died (killed, out of memory or crashed: see its "
                  "log). Rerun the same command to resume: a chunked encoding or index build skips the chunks "
                  "already finished");
    }
  }
};
#else
struct DataParallel::Group {};
#endif

DataParallel::DataParallel(int world_size, int rank, const std::string& master_addr, int master_port,
                           const std::string& launcher_store_prefix)
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
  const bool hosted_by_launcher = !launcher_store_prefix.empty();
  store_options.isServer = rank == 0 && !hosted_by_launcher;
  store_options.numWorkers = world_size;
  store_options.waitWorkers = false;
  const std::string endpoint = master_addr + ":" + std::to_string(master_port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(master_addr, store_options);
    if (hosted_by_launcher)
      store = c10::make_intrusive<c10d::PrefixStore>(launcher_store_prefix, tcp);
    else
      store = tcp;
  } catch (const std::exception& e) {
    std::string cause = e.what();
    cause = cause.substr(0, cause.find('\n'));
    throw Error("distributed: rank " + std::to_string(rank) +
                (store_options.isServer ? " could not listen on " : " could not reach the rendezvous store at ") +
                endpoint + " (" + cause + "). " +
                (store_options.isServer ? "Another process holds the port: set MASTER_PORT (a training config: master_port) to a free one"
                                        : "Check MASTER_ADDR / MASTER_PORT and that rank 0 (or the launcher) is running"));
  }
  const auto text = [](int n) {
    const std::string s = std::to_string(n);
    return std::vector<uint8_t>(s.begin(), s.end());
  };
  // Once the store is up, a failure of the rendezvous or of Gloo's connection set-up means
  // another rank left (its exit takes the store or its sockets down): say so, not c10's text.
  const auto rendezvous = [&](const auto& step) {
    try {
      step();
    } catch (const std::exception& e) {
      std::string cause = e.what();
      cause = cause.substr(0, cause.find('\n'));  // c10 appends a backtrace
      throw Error("distributed: rank " + std::to_string(rank) + " lost the other ranks while starting (" + cause +
                  "); another rank probably failed at start: its log says why. Fix that and start every rank again");
    }
  };
  const auto read_key = [](int r) { return "lrem/world_size_read/" + std::to_string(r); };
  // Rank 0 hears from every rank it expects, the others from rank 0: any disagreement is seen
  // by rank 0 and by the rank that disagrees.
  std::string disagreement;
  rendezvous([&] {
    store->set("lrem/world_size/" + std::to_string(rank), text(world_size));
    for (int other = rank == 0 ? 1 : 0; other < (rank == 0 ? world_size : 1); ++other) {
      const std::vector<uint8_t> theirs = store->get("lrem/world_size/" + std::to_string(other));
      if (theirs != text(world_size) && disagreement.empty())
        disagreement = "distributed: rank " + std::to_string(rank) + " was started with world_size " +
                       std::to_string(world_size) + " but rank " + std::to_string(other) + " with " +
                       std::string(theirs.begin(), theirs.end()) +
                       "; start every rank with the same WORLD_SIZE (or --world-size)";
    }
    if (rank != 0) {
      store->set(read_key(rank), text(1));
    } else if (!disagreement.empty()) {
      // Rank 0 hosts the store: leaving at once would cut off a rank still reading rank 0's
      // world size, which would then see a reset connection instead of the disagreement.
      std::vector<std::string> keys;
      for (int other = 1; other < world_size; ++other) keys.push_back(read_key(other));
      try {
        store->wait(keys, std::chrono::seconds(10));
      } catch (const std::exception&) {  // a rank that never started cannot be waited for
      }
    }
  });
  if (!disagreement.empty()) throw InvalidArgument(disagreement);
  auto options = c10d::ProcessGroupGloo::Options::create();
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(master_addr));
  group_ = std::make_unique<Group>();
  rendezvous([&] { group_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world_size, options); });
  group_->rank = rank;
#else
  throw InvalidArgument("distributed: this lrem was built without Gloo (install libgloo-dev and rebuild) "
                        "so world_size must be 1");
#endif
}

DataParallel::~DataParallel() = default;

namespace {

// The integer in environment variable `name`, or `fallback` when it is unset.
int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (!value) return fallback;
  char* end = nullptr;
  const long n = std::strtol(value, &end, 10);
  if (*value == '\0' || *end != '\0' || n < 0 || n > 1 << 20)
    throw InvalidArgument(std::string("distributed: environment variable ") + name + "='" + value +
                          "' is not a non-negative integer");
  return int(n);
}

}  // namespace

std::unique_ptr<DataParallel> DataParallel::from_environment() {
  const int world_size = env_int("WORLD_SIZE", 1);
  if (world_size == 0) throw InvalidArgument("distributed: WORLD_SIZE=0; a job needs at least one process");
  const int rank = env_int("RANK", world_size == 1 ? 0 : -1);
  if (rank < 0) throw InvalidArgument("distributed: WORLD_SIZE is set but RANK is not; launch with torchrun or set both");
  if (rank >= world_size)
    throw InvalidArgument("distributed: RANK=" + std::to_string(rank) + " is not below WORLD_SIZE=" +
                          std::to_string(world_size));
  const char* addr = std::getenv("MASTER_ADDR");
  // torchrun's agent hosts the store on MASTER_PORT itself and tells its workers so; keys go
  // under the prefix torch.distributed's own env:// rendezvous uses for this restart.
  std::string launcher_store_prefix;
  if (const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE"); agent && std::string(agent) == "True")
    launcher_store_prefix = "/worker/attempt_" + std::to_string(env_int("TORCHELASTIC_RESTART_COUNT", 0));
  return std::make_unique<DataParallel>(world_size, rank, addr && *addr ? addr : "127.0.0.1",
                                        env_int("MASTER_PORT", 29500), launcher_store_prefix);
}

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
  group_->wait(group_->pg->allreduce(flat), "all_reduce (gradients)");
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
    group_->wait(group_->pg->broadcast(buf), "broadcast (parameters)");
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
  group_->wait(group_->pg->allgather(outputs, inputs), "all_gather");
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
  group_->wait(group_->pg->allreduce(buf), "all_reduce (mean)");
  size_t i = 0;
  for (auto& [k, v] : out) v = buf[0][int64_t(i++)].item<double>() / world_size_;
#endif
  return out;
}

void DataParallel::barrier() {
  if (world_size_ == 1) return;
#ifdef LREM_HAVE_GLOO
  group_->wait(group_->pg->barrier(), "barrier");
#endif
}

void DataParallel::collectively(const std::function<void()>& step) {
  std::exception_ptr failure;
  try {
    step();
  } catch (...) {
    failure = std::current_exception();
  }
  if (world_size_ == 1) {
    if (failure) std::rethrow_exception(failure);
    return;
  }
  // Bit r set: rank r failed (a sum of distinct powers of two; ranks past 62 share bit 62).
  const int64_t failed = sum(failure ? int64_t(1) << std::min(rank_, 62) : 0);
  if (failure) std::rethrow_exception(failure);
  if (failed != 0) {
    std::string ranks;
    for (int r = 0; r < std::min(world_size_, 63); ++r)
      if (failed >> r & 1) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    throw Error("distributed: rank " + ranks + " failed (see its error); rank " + std::to_string(rank_) +
                " stops too");
  }
}

int64_t DataParallel::sum(int64_t value) {
  if (world_size_ == 1) return value;
#ifdef LREM_HAVE_GLOO
  std::vector<at::Tensor> buf{at::tensor({value}, at::kLong)};
  group_->wait(group_->pg->allreduce(buf), "all_reduce (sum)");
  return buf[0][0].item<int64_t>();
#else
  return value;
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
  group_->wait(group_->pg->allreduce(high, max), "all_reduce (max)");
  const auto r = high[0];
  if (r[0].item<int64_t>() != hi || r[1].item<int64_t>() != lo || -r[2].item<int64_t>() != hi ||
      -r[3].item<int64_t>() != lo)
    throw InvalidArgument("distributed: the ranks disagree on " + what + "; start every rank with the same options");
#endif
}

}  // namespace lrem
