#include "item_store_workload.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "lrem/error.h"

namespace lrem::bench {

namespace {

constexpr double kMib = 1024.0 * 1024.0;

void generate(const std::string& path, int64_t n) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw IoError("cannot write '" + path + "'");
  std::mt19937_64 rng(1);
  for (int64_t i = 0; i < n; ++i)
    std::fprintf(f, "{\"id\": %lld, \"title\": \"generated product %lld in category %llu\", \"price\": %.2f, "
                 "\"description\": \"a sturdy everyday item, variant %llu, made to last and easy to clean\"}\n",
                 static_cast<long long>(i * 7 + 3), static_cast<long long>(i),
                 static_cast<unsigned long long>(rng() % 1000), double(rng() % 100000) / 100.0,
                 static_cast<unsigned long long>(rng() % 100000));
  std::fclose(f);
}

int64_t item_id(int64_t i) { return i * 7 + 3; }

// Resident memory in MiB, split as /proc reports it: anonymous memory (heap, caches the
// storage allocates) and file pages mapped into the process (shared libraries, and the
// database file of a storage that maps it). Pages read with read() live in the kernel's page
// cache and count in neither.
nlohmann::json resident() {
  std::ifstream status("/proc/self/status");
  double anon = 0, file = 0;
  for (std::string key; status >> key;) {
    double kib = 0;
    if (key == "RssAnon:" && status >> kib) anon = kib / 1024.0;
    if (key == "RssFile:" && status >> kib) file = kib / 1024.0;
  }
  return {{"total", double(resident_bytes()) / kMib}, {"anon", anon}, {"file", file}};
}

}  // namespace

int run_item_store_bench(const char* program, int argc, char** argv, const std::vector<std::string>& own,
                         const StorageFactory& make) {
  return run_main(program, [&] {
    std::vector<std::string> known = {"items", "dir", "k", "lookups", "updates", "batch", "dim"};
    known.insert(known.end(), own.begin(), own.end());
    const Args args(argc, argv, known);
    const int64_t n = args.integer("items", 1000000);
    const std::string dir = args.str("dir", "/tmp/lrem_bench_item_store");
    const int k = int(args.integer("k", 10));
    const int lookups = int(args.integer("lookups", 20000));
    const int updates = int(args.integer("updates", 5));
    const int64_t batch = std::min<int64_t>(args.integer("batch", 1000), n);
    const int dim = int(args.integer("dim", 128));
    std::filesystem::create_directories(dir);
    const std::string stem = dir + "/items_" + std::to_string(n);
    const std::string jsonl = stem + ".jsonl";
    if (!std::filesystem::exists(jsonl)) generate(jsonl, n);
    const std::unique_ptr<StorageUnderTest> storage = make(args, stem);

    const nlohmann::json at_start = resident();
    double t = now_seconds();
    storage->import(jsonl);
    const double import_s = now_seconds() - t;
    const nlohmann::json after_import = resident();
    const double import_peak_mib = double(peak_rss_bytes()) / kMib;

    std::mt19937_64 rng(2);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    std::vector<double> lookup_s;
    lookup_s.reserve(size_t(lookups));
    std::vector<int64_t> ids(static_cast<size_t>(k));
    for (int i = 0; i < lookups; ++i) {
      for (int64_t& id : ids) id = item_id(pick(rng));
      t = now_seconds();
      const std::vector<std::optional<Item>> found = storage->find_many(ids);
      lookup_s.push_back(now_seconds() - t);
      if (!found.front()) throw FormatError(storage->name() + ": item " + std::to_string(ids.front()) + " not found");
    }
    const nlohmann::json after_lookups = resident();

    std::normal_distribution<float> normal;
    std::vector<float> vectors(size_t(batch) * size_t(dim));
    std::vector<double> update_s;
    std::vector<Item> changed;
    for (int u = 0; u < updates; ++u) {
      std::set<int64_t> picked;
      while (int64_t(picked.size()) < batch) picked.insert(pick(rng));
      changed.clear();
      for (const int64_t i : picked)
        changed.push_back({item_id(i), "updated product " + std::to_string(i) + " in round " + std::to_string(u),
                           "{\"price\": 9.99}"});
      for (float& x : vectors) x = normal(rng);
      t = now_seconds();
      storage->update_logged(changed, vectors.data(), dim);
      update_s.push_back(now_seconds() - t);
    }
    if (updates > 0 && storage->find_many({changed.front().id}).front()->title != changed.front().title)
      throw FormatError(storage->name() + ": an update of item " + std::to_string(changed.front().id) + " is not visible");

    emit({{"bench", "item_store"},
          {"storage", storage->name()},
          {"items", n},
          {"jsonl_mib", double(std::filesystem::file_size(jsonl)) / kMib},
          {"file_mib", double(storage->file_bytes()) / kMib},
          {"import_seconds", import_s},
          {"items_per_second", double(n) / import_s},
          {"k", k},
          {"lookup_p50_us", percentile(lookup_s, 50) * 1e6},
          {"lookup_p99_us", percentile(lookup_s, 99) * 1e6},
          {"update_batch", batch},
          {"update_dim", dim},
          {"update_ms_median", updates > 0 ? median(update_s) * 1e3 : 0.0},
          {"update_ms_max", updates > 0 ? *std::max_element(update_s.begin(), update_s.end()) * 1e3 : 0.0},
          {"rss_start_mib", at_start},
          {"rss_after_import_mib", after_import},
          {"rss_after_lookups_mib", after_lookups},
          {"import_peak_rss_mib", import_peak_mib},
          {"peak_rss_mib", double(peak_rss_bytes()) / kMib},
          {"machine", machine_description()}});
  });
}

}  // namespace lrem::bench
