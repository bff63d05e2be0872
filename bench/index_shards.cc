// Does in-process sharding (FAISS IndexShards) pay on this machine? The same trained IVF
// index searched whole, searched with FAISS's per-query parallelism over inverted lists
// (parallel_mode 1), and split round-robin into S shards searched by S threads
// (IndexShards, threaded): single-query latency (p50 and p99 of one query at a time, the
// serving case) and batched QPS, with recall@10 against the whole index's own answers.
// FAISS directly, not lrem::Index: the question is whether lrem should shard, so the bench
// must be able to build what lrem does not.
//
//   bench_index_shards [--vectors 1000000] [--dim 128] [--factory IVF1024,PQ32np]
//                      [--nprobe 32] [--shards 2] [--queries 1000] [--threads N]
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexShards.h>
#include <faiss/clone_index.h>
#include <faiss/index_factory.h>
#include <omp.h>

#include <memory>
#include <numeric>
#include <set>
#include <thread>

#include "bench_common.h"

using namespace lrem;

namespace {

struct Answers {
  std::vector<float> scores;
  std::vector<faiss::Index::idx_t> ids;
};

Answers search(const faiss::Index& index, const float* queries, int64_t nq) {
  Answers a{std::vector<float>(nq * 10), std::vector<faiss::Index::idx_t>(nq * 10)};
  index.search(nq, queries, 10, a.scores.data(), a.ids.data());
  return a;
}

double agreement_at_10(const Answers& got, const Answers& reference, int64_t nq) {
  double hits = 0;
  for (int64_t q = 0; q < nq; ++q) {
    const std::set<faiss::Index::idx_t> truth(reference.ids.begin() + q * 10, reference.ids.begin() + q * 10 + 10);
    for (int i = 0; i < 10; ++i) hits += truth.count(got.ids[q * 10 + i]);
  }
  return hits / (10.0 * nq);
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_index_shards", [&] {
    const bench::Args args(argc, argv, {"vectors", "dim", "factory", "nprobe", "shards", "queries", "threads"});
    const int64_t n = args.integer("vectors", 1000000), dim = args.integer("dim", 128);
    const int64_t nq = args.integer("queries", 1000), num_shards = args.integer("shards", 2);
    const int nprobe = static_cast<int>(args.integer("nprobe", 32));
    const std::string factory = args.str("factory", "IVF1024,PQ32np");
    c10::InferenceMode guard;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    const bench::EmbeddingLikeData source(dim, 32, gen);
    const at::Tensor data = source.sample(n, gen), queries = source.sample(nq, gen);
    const float* x = data.data_ptr<float>();
    // After ATen's work: its first parallel call sets OpenMP's count to its own (the physical
    // cores), which would leave FAISS on one thread here.
    omp_set_num_threads(static_cast<int>(args.integer("threads", std::thread::hardware_concurrency())));

    std::unique_ptr<faiss::Index> trained(faiss::index_factory(int(dim), factory.c_str(), faiss::METRIC_INNER_PRODUCT));
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(trained.get());
    if (!ivf) throw std::runtime_error("--factory must make an IVF index, got '" + factory + "'");
    trained->train(std::min<int64_t>(n, 40 * int64_t(ivf->nlist)), x);

    // The whole index and S shards holding every S-th vector, all from the same training.
    std::unique_ptr<faiss::Index> whole(faiss::clone_index(trained.get()));
    std::vector<faiss::Index::idx_t> ids(n);
    std::iota(ids.begin(), ids.end(), 0);
    whole->add_with_ids(n, x, ids.data());
    faiss::IndexShards shards(int(dim), /*threaded=*/true, /*successive_ids=*/false);
    std::vector<std::unique_ptr<faiss::Index>> parts;
    for (int64_t s = 0; s < num_shards; ++s) {
      parts.emplace_back(faiss::clone_index(trained.get()));
      std::vector<float> rows;
      std::vector<faiss::Index::idx_t> part_ids;
      for (int64_t i = s; i < n; i += num_shards) {
        rows.insert(rows.end(), x + i * dim, x + (i + 1) * dim);
        part_ids.push_back(i);
      }
      parts.back()->add_with_ids(int64_t(part_ids.size()), rows.data(), part_ids.data());
      dynamic_cast<faiss::IndexIVF&>(*parts.back()).nprobe = size_t(nprobe);
      shards.add_shard(parts.back().get());
    }

    const float* q = queries.data_ptr<float>();
    auto measure = [&](const std::string& layout, const faiss::Index& index) {
      const Answers batched = search(index, q, nq);  // warm-up, and the answers compared
      const auto batch_times = bench::time_calls([&] { search(index, q, nq); }, 0, 2, 100, 2.0);
      std::vector<double> single;
      for (int64_t i = 0; i < nq; ++i) {
        const double t0 = bench::now_seconds();
        search(index, q + i * dim, 1);
        single.push_back(bench::now_seconds() - t0);
      }
      return std::make_pair(batched, nlohmann::json{{"bench", "index_shards"},
                                                     {"layout", layout},
                                                     {"factory", factory},
                                                     {"vectors", n},
                                                     {"dim", dim},
                                                     {"nprobe", nprobe},
                                                     {"queries", nq},
                                                     {"single_query_p50_ms", 1e3 * bench::percentile(single, 50)},
                                                     {"single_query_p99_ms", 1e3 * bench::percentile(single, 99)},
                                                     {"batched_qps", nq / bench::median(batch_times)},
                                                     {"threads", omp_get_max_threads()},
                                                     {"load_average_1min", bench::load_average_1min()}});
    };

    auto& whole_ivf = dynamic_cast<faiss::IndexIVF&>(*whole);
    whole_ivf.nprobe = size_t(nprobe);
    const auto [reference, whole_row] = measure("whole", *whole);
    nlohmann::json row = whole_row;
    row["agreement_at_10"] = 1.0;
    bench::emit(row);
    whole_ivf.parallel_mode = 1;
    const auto [by_lists, lists_row] = measure("whole, parallel_mode 1", *whole);
    row = lists_row;
    row["agreement_at_10"] = agreement_at_10(by_lists, reference, nq);
    bench::emit(row);
    const auto [sharded, shards_row] = measure(std::to_string(num_shards) + " shards (IndexShards, threaded)", shards);
    row = shards_row;
    row["agreement_at_10"] = agreement_at_10(sharded, reference, nq);
    bench::emit(row);
  });
}
