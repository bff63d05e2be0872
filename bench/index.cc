// Item 5: FAISS through lrem::Index. Flat (exact) vs HNSW16 vs IVF,Flat vs IVF-PQ: build time,
// memory (resident-set growth while building), QPS of a batched search, recall@10 against Flat.
//
//   bench_index [--sizes 100000,1000000] [--dims 768,128] [--queries 1000] [--queries-1m 200]
//               [--intrinsic-dim 32] [--hnsw-m 16] [--threads N]
//
// Data: bench::EmbeddingLikeData (bench_common.h), clustered like real embedding sets.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <numeric>
#include <set>
#include <thread>

#include "bench_common.h"
#include "lrem/index.h"

using namespace lrem;

namespace {

double recall_at_10(const SearchResult& got, const SearchResult& exact) {
  double hits = 0;
  for (int64_t q = 0; q < got.num_queries; ++q) {
    const std::set<int64_t> truth(exact.ids_of(q), exact.ids_of(q) + 10);
    for (int i = 0; i < 10; ++i) hits += truth.count(got.ids_of(q)[i]);
  }
  return hits / (10.0 * got.num_queries);
}

// About sqrt(n) inverted lists, FAISS's rule of thumb, rounded to a power of two.
int64_t ivf_lists(int64_t n) { return n >= 1000000 ? 1024 : 256; }

struct Built {
  Index index;
  double build_seconds;
  int64_t memory_bytes;
};

Built build(const std::string& factory, const at::Tensor& data, const std::vector<int64_t>& ids) {
  const int64_t n = data.size(0), dim = data.size(1);
  const int64_t before = bench::resident_bytes();
  const double t0 = bench::now_seconds();
  Index index(static_cast<int>(dim), factory);
  // FAISS asks for at least 39 training vectors per IVF list.
  if (!index.is_trained()) index.train(data.data_ptr<float>(), std::min<int64_t>(n, 40 * ivf_lists(n)), true);
  const int64_t chunk = 65536;  // bounds lrem's per-call validation copy
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t m = std::min(chunk, n - start);
    index.add(data.data_ptr<float>() + start * dim, ids.data() + start, m, true);
  }
  return {std::move(index), bench::now_seconds() - t0, bench::resident_bytes() - before};
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_index", [&] {
    const bench::Args args(argc, argv, {"sizes", "dims", "queries", "queries-1m", "intrinsic-dim", "hnsw-m", "threads"});
    // FAISS parallelises with OpenMP; lrem never changes that count, so set it here.
    omp_set_num_threads(static_cast<int>(args.integer("threads", std::thread::hardware_concurrency())));
    const int64_t intrinsic_dim = args.integer("intrinsic-dim", 32);
    c10::InferenceMode guard;
    for (const int64_t dim : args.integers("dims", {768, 128})) {
      for (const int64_t n : args.integers("sizes", {100000, 1000000})) {
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(dim * 1000003 + n);
        const bench::EmbeddingLikeData source(dim, std::min(intrinsic_dim, dim), gen);
        const at::Tensor data = source.sample(n, gen);
        const int64_t nq = n >= 1000000 ? args.integer("queries-1m", 200) : args.integer("queries", 1000);
        const at::Tensor queries = source.sample(nq, gen);
        std::vector<int64_t> ids(n);
        std::iota(ids.begin(), ids.end(), 0);

        auto measure = [&](const Index& index) {
          SearchResult result;
          const auto times = bench::time_calls(
              [&] { result = index.search(queries.data_ptr<float>(), nq, 10, true); }, 1, 2, 1000, 1.0);
          return std::make_pair(result, nq / bench::median(times));
        };
        auto record = [&](const Built& b, const std::string& knob, int value, double qps, double recall) {
          return nlohmann::json{{"bench", "index"},
                                {"factory", b.index.factory()},
                                {"dim", dim},
                                {"intrinsic_dim", std::min(intrinsic_dim, dim)},
                                {"vectors", n},
                                {"queries", nq},
                                {"build_seconds", b.build_seconds},
                                {"memory_mb", b.memory_bytes / 1e6},
                                {"knob", knob},
                                {"value", value},
                                {"qps", qps},
                                {"recall_at_10", recall},
                                {"threads", omp_get_max_threads()},
                                {"load_average_1min", bench::load_average_1min()}};
        };

        // The exact index stays alive and is timed again after each approximate index's sweep:
        // each sweep's speed-up is taken against the mean of the exact QPS measured just before
        // and just after it, so a load change on the shared machine does not skew the ratio.
        const Built flat = build("Flat", data, ids);
        auto [exact, exact_qps] = measure(flat.index);
        {
          nlohmann::json r = record(flat, "", 0, exact_qps, 1.0);
          r["exact_qps"] = exact_qps;
          r["speedup_vs_exact"] = 1.0;
          bench::emit(r);
        }
        auto sweep = [&](Built& approx, const std::string& knob, const std::vector<int>& values,
                         const std::function<void(Index&, int)>& set) {
          std::vector<nlohmann::json> rows;
          for (const int value : values) {
            set(approx.index, value);
            const auto [result, qps] = measure(approx.index);
            rows.push_back(record(approx, knob, value, qps, recall_at_10(result, exact)));
          }
          const double before = exact_qps;
          exact_qps = measure(flat.index).second;
          for (auto& r : rows) {
            r["exact_qps"] = (before + exact_qps) / 2;
            r["speedup_vs_exact"] = r["qps"].get<double>() / r["exact_qps"].get<double>();
            bench::emit(r);
          }
        };
        {
          // M = 16 links per node by default: it builds faster than M = 32 (the 1M-vector build
          // dominates the run). efConstruction is FAISS's default (40): lrem::Index does not
          // expose it.
          Built hnsw = build("HNSW" + std::to_string(args.integer("hnsw-m", 16)), data, ids);
          sweep(hnsw, "efSearch", {16, 32, 64, 128, 256}, [](Index& index, int ef) { index.set_ef_search(ef); });
        }
        // IVF,Flat scans full vectors, so its recall follows nprobe up to 1. PQ keeps one byte
        // per 8 dimensions (768 -> 96 bytes, 32x smaller than float32), and its quantisation
        // error caps recall whatever nprobe is. "np": no polysemous training, which the factory
        // otherwise runs (a simulated annealing that took minutes and only helps Hamming
        // filtering, which lrem does not use).
        const std::string lists = "IVF" + std::to_string(ivf_lists(n));
        for (const std::string& factory : {lists + ",Flat", lists + ",PQ" + std::to_string(dim / 8) + "np"}) {
          Built ivf = build(factory, data, ids);
          sweep(ivf, "nprobe", {8, 32, 128}, [](Index& index, int nprobe) { index.set_nprobe(nprobe); });
        }
      }
    }
  });
}
