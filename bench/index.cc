// Item 5: FAISS through lrem::Index. Flat (exact) vs HNSW32 vs IVF-PQ: build time, memory
// (resident-set growth while building), QPS of a batched search, recall@10 against Flat.
//
//   bench_index [--sizes 100000,1000000] [--dims 768,256] [--queries 1000] [--queries-1m 200]
//
// Data: a Gaussian mixture (2,048 centres, within-cluster noise 0.6 of the centre spread),
// L2-normalised: real embedding sets are clustered, and uniform random vectors would make
// every approximate index look worse than it is in use. Queries are fresh draws from the
// same mixture (not in the index).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <omp.h>

#include <numeric>
#include <set>
#include <thread>

#include "bench_common.h"
#include "lrem/index.h"

using namespace lrem;

namespace {

at::Tensor mixture(int64_t n, int64_t dim, const at::Tensor& centres, at::Generator& gen) {
  const at::Tensor pick = at::randint(centres.size(0), {n}, gen);
  at::Tensor x = centres.index_select(0, pick) + 0.6 * at::randn({n, dim}, gen);
  return x / x.norm(2, 1, true);
}

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
    const bench::Args args(argc, argv, {"sizes", "dims", "queries", "queries-1m", "threads"});
    // FAISS parallelises with OpenMP; lrem never changes that count, so set it here.
    omp_set_num_threads(static_cast<int>(args.integer("threads", std::thread::hardware_concurrency())));
    c10::InferenceMode guard;
    for (const int64_t dim : args.integers("dims", {768, 256})) {
      for (const int64_t n : args.integers("sizes", {100000, 1000000})) {
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(dim * 1000003 + n);
        const at::Tensor centres = at::randn({2048, dim}, gen);
        const at::Tensor data = mixture(n, dim, centres, gen).contiguous();
        const int64_t nq = n >= 1000000 ? args.integer("queries-1m", 200) : args.integer("queries", 1000);
        const at::Tensor queries = mixture(nq, dim, centres, gen).contiguous();
        std::vector<int64_t> ids(n);
        std::iota(ids.begin(), ids.end(), 0);

        auto measure = [&](const Index& index) {
          SearchResult result;
          const auto times = bench::time_calls(
              [&] { result = index.search(queries.data_ptr<float>(), nq, 10, true); }, 1, 2, 1000, 1.0);
          return std::make_pair(result, nq / bench::median(times));
        };
        auto report = [&](const Built& b, const std::string& knob, int value, double qps, double recall,
                          double exact_qps) {
          bench::emit({{"bench", "index"},
                       {"factory", b.index.factory()},
                       {"dim", dim},
                       {"vectors", n},
                       {"queries", nq},
                       {"build_seconds", b.build_seconds},
                       {"memory_mb", b.memory_bytes / 1e6},
                       {"knob", knob},
                       {"value", value},
                       {"qps", qps},
                       {"speedup_vs_exact", qps / exact_qps},
                       {"recall_at_10", recall},
                       {"threads", omp_get_max_threads()},
                       {"load_average_1min", bench::load_average_1min()}});
        };

        SearchResult exact;
        double exact_qps = 0;
        {
          const Built flat = build("Flat", data, ids);
          std::tie(exact, exact_qps) = measure(flat.index);
          report(flat, "", 0, exact_qps, 1.0, exact_qps);
        }
        {
          Built hnsw = build("HNSW32", data, ids);
          for (const int ef : {16, 32, 64, 128, 256}) {
            hnsw.index.set_ef_search(ef);
            const auto [result, qps] = measure(hnsw.index);
            report(hnsw, "efSearch", ef, qps, recall_at_10(result, exact), exact_qps);
          }
        }
        {
          // 8-bit codes over 12-dimensional (768) or 8-dimensional (256) sub-vectors.
          const std::string factory = "IVF" + std::to_string(ivf_lists(n)) + ",PQ" +
                                      std::to_string(dim % 12 == 0 ? dim / 12 : dim / 8);
          Built ivf = build(factory, data, ids);
          for (const int nprobe : {8, 32, 128}) {
            ivf.index.set_nprobe(nprobe);
            const auto [result, qps] = measure(ivf.index);
            report(ivf, "nprobe", nprobe, qps, recall_at_10(result, exact), exact_qps);
          }
        }
      }
    }
  });
}
