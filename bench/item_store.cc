// The item store at catalogue scale: streamed import of items.jsonl into the SQLite item
// database (throughput, peak RSS), top-k lookups by id (latency, RSS after), against the
// in-memory store reading the same file.
//
//   bench_item_store --items N [--dir DIR] [--k 10] [--lookups 20000] [--memory]
//
// Generates DIR/items.jsonl with N items (id, title, two fields, about 200 bytes a line)
// unless it exists; --memory also loads it into an in-memory store (run it as its own process
// so each storage's peak RSS is its own).
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "bench_common.h"
#include "lrem/dataset.h"

namespace {

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

void generate(const std::string& path, int64_t n) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::mt19937_64 rng(1);
  for (int64_t i = 0; i < n; ++i)
    std::fprintf(f, "{\"id\": %lld, \"title\": \"generated product %lld in category %llu\", \"price\": %.2f, "
                 "\"description\": \"a sturdy everyday item, variant %llu, made to last and easy to clean\"}\n",
                 static_cast<long long>(i * 7 + 3), static_cast<long long>(i),
                 static_cast<unsigned long long>(rng() % 1000), double(rng() % 100000) / 100.0,
                 static_cast<unsigned long long>(rng() % 100000));
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lrem;
  bench::Args args(argc, argv, {"items", "dir", "k", "lookups", "memory"});
  const int64_t n = args.integer("items", 1000000);
  const std::string dir = args.str("dir", "/tmp/lrem_bench_item_store");
  const int k = int(args.integer("k", 10));
  const int lookups = int(args.integer("lookups", 20000));
  std::filesystem::create_directories(dir);
  const std::string jsonl = dir + "/items_" + std::to_string(n) + ".jsonl";
  if (!std::filesystem::exists(jsonl)) generate(jsonl, n);
  const double file_mib = double(std::filesystem::file_size(jsonl)) / (1024.0 * 1024.0);

  const double start_rss = rss_mib();
  double t = bench::now_seconds();
  ItemStore store;
  const char* storage = args.flag("memory") ? "memory" : "sqlite";
  if (args.flag("memory"))
    store = ItemStore::load(jsonl);
  else
    store = ItemStore::import_jsonl(jsonl, dir + "/items_" + std::to_string(n) + ".sqlite");
  const double load_s = bench::now_seconds() - t;
  const double after_load_rss = rss_mib();

  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  std::vector<double> latencies;
  latencies.reserve(size_t(lookups));
  for (int i = 0; i < lookups; ++i) {
    std::vector<int64_t> ids(static_cast<size_t>(k));
    for (int64_t& id : ids) id = pick(rng) * 7 + 3;
    t = bench::now_seconds();
    const std::vector<std::optional<Item>> found = store.find_many(ids);
    latencies.push_back(bench::now_seconds() - t);
    if (!found.front()) return 1;
  }
  bench::emit({{"bench", "item_store"},
               {"storage", storage},
               {"items", n},
               {"jsonl_mib", file_mib},
               {"load_seconds", load_s},
               {"items_per_second", double(n) / load_s},
               {"k", k},
               {"lookup_p50_us", bench::percentile(latencies, 50) * 1e6},
               {"lookup_p99_us", bench::percentile(latencies, 99) * 1e6},
               {"rss_start_mib", start_rss},
               {"rss_after_load_mib", after_load_rss},
               {"rss_after_lookups_mib", rss_mib()},
               {"peak_rss_mib", peak_rss_mib()},
               {"machine", bench::machine_description()}});
  return 0;
}
