#include "lrem/index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>

#include <functional>
#include <nlohmann/json.hpp>

#include "util/file_io.h"
#include "lrem/error.h"
#include "util/sha256.h"
#include "test_support.h"

namespace lrem {
namespace {

using testing::TempDir;
using testing::random_vectors;

std::vector<int64_t> iota_ids(int64_t n, int64_t first = 0) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), first);
  return ids;
}

// Brute-force cosine top-k, ties broken by smaller id.
std::vector<int64_t> brute_force(const std::vector<float>& base, const std::vector<int64_t>& ids, const float* q,
                                 int dim, int k) {
  auto norm = [dim](const float* v) {
    double s = 0;
    for (int j = 0; j < dim; ++j) s += double(v[j]) * v[j];
    return std::sqrt(s);
  };
  std::vector<std::pair<double, int64_t>> scored;
  for (size_t i = 0; i < ids.size(); ++i) {
    const float* v = base.data() + i * dim;
    double dot = 0;
    for (int j = 0; j < dim; ++j) dot += double(v[j]) * q[j];
    scored.push_back({-dot / (norm(v) * norm(q)), ids[i]});
  }
  std::sort(scored.begin(), scored.end());
  std::vector<int64_t> top;
  for (int i = 0; i < k && i < int(scored.size()); ++i) top.push_back(scored[i].second);
  return top;
}

TEST(Index, FlatSearchEqualsBruteForce) {
  const int dim = 16, n = 300, nq = 20, k = 10;
  auto base = random_vectors(n, dim, 1);
  auto ids = iota_ids(n, 1000);
  Index index(dim);
  index.add(base.data(), ids.data(), n);
  EXPECT_EQ(index.size(), n);
  auto queries = random_vectors(nq, dim, 2);
  auto result = index.search(queries.data(), nq, k);
  ASSERT_EQ(result.ids.size(), size_t(nq * k));
  for (int q = 0; q < nq; ++q) {
    auto expected = brute_force(base, ids, queries.data() + q * dim, dim, k);
    EXPECT_EQ(std::vector<int64_t>(result.ids_of(q), result.ids_of(q) + k), expected) << "query " << q;
    for (int i = 0; i < k; ++i) {
      EXPECT_LE(result.scores_of(q)[i], 1.0f + 1e-5f);
      if (i > 0) EXPECT_GE(result.scores_of(q)[i - 1], result.scores_of(q)[i]);
    }
  }
}

TEST(Index, ScoresAreCosineSimilarities) {
  Index index(2);
  const float v[] = {3, 4, 0, -2};
  const int64_t ids[] = {7, 8};
  index.add(v, ids, 2);
  const float q[] = {1, 0};
  auto r = index.search(q, 1, 2);
  EXPECT_EQ(r.ids[0], 7);
  EXPECT_NEAR(r.scores[0], 0.6f, 1e-6);
  EXPECT_EQ(r.ids[1], 8);
  EXPECT_NEAR(r.scores[1], 0.0f, 1e-6);
}

TEST(Index, KEdgeCases) {
  const int dim = 4;
  Index index(dim);
  auto q = random_vectors(1, dim, 3);
  EXPECT_THROW(index.search(q.data(), 1, 0), InvalidArgument);
  EXPECT_THROW(index.search(q.data(), 1, -1), InvalidArgument);
  EXPECT_THROW(index.search(q.data(), 1, Index::kMaxK + 1), LimitExceeded);

  auto empty = index.search(q.data(), 1, 3);
  EXPECT_EQ(empty.ids, std::vector<int64_t>(3, -1));
  EXPECT_TRUE(std::isinf(empty.scores[0]) && empty.scores[0] < 0);

  auto base = random_vectors(3, dim, 4);
  auto ids = iota_ids(3);
  index.add(base.data(), ids.data(), 3);
  auto r = index.search(q.data(), 1, 5);  // k > size: 3 hits then padding
  ASSERT_EQ(r.ids.size(), 5u);
  std::vector<int64_t> hits(r.ids.begin(), r.ids.begin() + 3);
  std::sort(hits.begin(), hits.end());
  EXPECT_EQ(hits, ids);
  EXPECT_EQ(r.ids[3], -1);
  EXPECT_EQ(r.ids[4], -1);
  EXPECT_TRUE(std::isinf(r.scores[4]));

  EXPECT_EQ(index.search(q.data(), 0, 5).ids.size(), 0u);
}

TEST(Index, RefusesBadVectorsAndIds) {
  const int dim = 3;
  Index index(dim);
  const int64_t ids[] = {1, 2};
  const float nan_row[] = {1, 0, 0, 0, std::nanf(""), 1};
  EXPECT_THROW(index.add(nan_row, ids, 2), InvalidArgument);
  const float inf_row[] = {INFINITY, 0, 0};
  EXPECT_THROW(index.add(inf_row, ids, 1), InvalidArgument);
  const float zero_row[] = {0, 0, 0};
  EXPECT_THROW(index.add(zero_row, ids, 1), InvalidArgument);
  const float unnormalised[] = {2, 0, 0};
  EXPECT_THROW(index.add(unnormalised, ids, 1, /*normalized=*/true), InvalidArgument);
  EXPECT_EQ(index.size(), 0);  // all-or-nothing

  const float good[] = {1, 0, 0, 0, 1, 0};
  const int64_t same[] = {5, 5};
  EXPECT_THROW(index.add(good, same, 2), InvalidArgument);
  const int64_t negative[] = {-3};
  EXPECT_THROW(index.add(good, negative, 1), InvalidArgument);
  index.add(good, ids, 2);
  EXPECT_THROW(index.add(good, ids + 1, 1), InvalidArgument);  // id 2 already present
  EXPECT_EQ(index.size(), 2);
  EXPECT_THROW(index.search(nan_row + 3, 1, 1), InvalidArgument);
}

TEST(Index, InvalidFactoryAndDim) {
  EXPECT_THROW(Index(8, "NoSuchIndex42"), InvalidArgument);
  EXPECT_THROW(Index(0, "Flat"), InvalidArgument);
  try {
    Index(8, "NoSuchIndex42");
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("NoSuchIndex42"), std::string::npos);
  }
}

TEST(Index, IvfNeedsTrainingAndSupportsNprobe) {
  const int dim = 8, n = 400;
  Index index(dim, "IVF4,Flat");
  EXPECT_FALSE(index.is_trained());
  auto base = random_vectors(n, dim, 5);
  auto ids = iota_ids(n);
  try {
    index.add(base.data(), ids.data(), n);
    FAIL() << "untrained add must throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("train"), std::string::npos);
  }
  EXPECT_THROW(index.train(base.data(), 2), InvalidArgument);  // fewer points than lists
  index.train(base.data(), n);
  EXPECT_TRUE(index.is_trained());
  index.add(base.data(), ids.data(), n);
  index.set_nprobe(4);  // all lists: exact
  auto q = random_vectors(1, dim, 6);
  auto r = index.search(q.data(), 1, 5);
  EXPECT_EQ(std::vector<int64_t>(r.ids.begin(), r.ids.end()), brute_force(base, ids, q.data(), dim, 5));
  EXPECT_THROW(index.set_ef_search(32), InvalidArgument);
  EXPECT_THROW(index.set_nprobe(0), InvalidArgument);
}

TEST(Index, KnobsRefuseWrongIndexType) {
  Index flat(4);
  EXPECT_THROW(flat.set_ef_search(10), InvalidArgument);
  EXPECT_THROW(flat.set_nprobe(10), InvalidArgument);
  EXPECT_THROW(flat.set_ef_construction(10), InvalidArgument);
  EXPECT_EQ(flat.hnsw_m(), 0);
  Index hnsw(4, "HNSW8");
  hnsw.set_ef_search(64);
  EXPECT_THROW(hnsw.set_nprobe(2), InvalidArgument);
  EXPECT_THROW(hnsw.set_ef_construction(0), InvalidArgument);
}

TEST(Index, HnswBuildKnobsShapeTheGraphAndPersist) {
  const int dim = 32, n = 2000, nq = 50, k = 10;
  auto base = random_vectors(n, dim, 21);
  auto ids = iota_ids(n, 0);
  auto queries = random_vectors(nq, dim, 22);
  Index exact(dim);
  exact.add(base.data(), ids.data(), n);
  const SearchResult truth = exact.search(queries.data(), nq, k);
  // recall@k at efSearch 10, where the graph's quality shows.
  auto recall = [&](const Index& index) {
    const SearchResult r = index.search(queries.data(), nq, k);
    int found = 0;
    for (int64_t q = 0; q < nq; ++q)
      for (int i = 0; i < k; ++i) found += std::count(r.ids_of(q), r.ids_of(q) + k, truth.ids_of(q)[i]) > 0;
    return double(found) / (nq * k);
  };
  Index rough(dim, "HNSW4"), fine(dim, "HNSW4");
  EXPECT_EQ(rough.hnsw_m(), 4);
  EXPECT_EQ(rough.ef_construction(), 40);  // FAISS's default
  rough.set_ef_construction(4);
  fine.set_ef_construction(200);
  for (Index* index : {&rough, &fine}) {
    index->add(base.data(), ids.data(), n);
    index->set_ef_search(10);
  }
  EXPECT_GT(recall(fine), recall(rough) + 0.05) << "a wider construction search must build a better graph";

  TempDir tmp;
  fine.save(tmp.file("idx"));
  const Index loaded = Index::load(tmp.file("idx"));
  EXPECT_EQ(loaded.hnsw_m(), 4);
  EXPECT_EQ(loaded.ef_construction(), 200);
  EXPECT_EQ(loaded.ef_search(), 10);
}

TEST(Index, RemoveWorks) {
  const int dim = 8, n = 50;
  auto base = random_vectors(n, dim, 7);
  auto ids = iota_ids(n, 100);
  for (const char* factory : {"Flat", "IVF2,Flat"}) {
    Index index(dim, factory);
    index.train(base.data(), n);
    index.add(base.data(), ids.data(), n);
    // Query with item 110's own vector: it is its own nearest neighbour until removed.
    const float* q = base.data() + 10 * dim;
    if (std::string(factory) != "Flat") index.set_nprobe(2);
    EXPECT_EQ(index.search(q, 1, 1).ids[0], 110);
    const int64_t gone[] = {110, 111, 99999};
    EXPECT_EQ(index.remove(gone, 3), 2) << factory;
    EXPECT_EQ(index.size(), n - 2);
    auto r = index.search(q, 1, n);
    EXPECT_EQ(std::count(r.ids.begin(), r.ids.end(), 110), 0);
    EXPECT_EQ(std::count(r.ids.begin(), r.ids.end(), 111), 0);
    index.add(q, gone, 1);  // the id can be reused once removed
    EXPECT_EQ(index.search(q, 1, 1).ids[0], 110);
  }
  Index hnsw(dim, "HNSW8");
  hnsw.add(base.data(), ids.data(), n);
  EXPECT_THROW(hnsw.remove(ids.data(), 1), InvalidArgument);
  EXPECT_EQ(hnsw.size(), n);
}

TEST(Index, HnswPersistsAndReloadsIdentically) {
  const int dim = 16, n = 500, nq = 10, k = 8;
  auto base = random_vectors(n, dim, 8);
  auto ids = iota_ids(n, 7);
  Index index(dim, "HNSW16");
  index.set_model_fingerprint("model-abc");
  index.add(base.data(), ids.data(), n);
  auto queries = random_vectors(nq, dim, 9);
  auto before = index.search(queries.data(), nq, k);

  TempDir tmp;
  const std::string dir = tmp.file("idx");
  index.save(dir);
  auto loaded = Index::load(dir, "model-abc", dim);
  EXPECT_EQ(loaded.size(), n);
  EXPECT_EQ(loaded.dim(), dim);
  EXPECT_EQ(loaded.factory(), "HNSW16");
  EXPECT_EQ(loaded.model_fingerprint(), "model-abc");
  auto after = loaded.search(queries.data(), nq, k);
  EXPECT_EQ(before.ids, after.ids);
  EXPECT_EQ(before.scores, after.scores);

  auto meta = nlohmann::json::parse(read_file(dir + "/meta.json"));
  EXPECT_EQ(meta["format_version"], Index::kFormatVersion);
  EXPECT_EQ(meta["dim"], dim);
  EXPECT_EQ(meta["metric"], "ip");
  EXPECT_EQ(meta["factory"], "HNSW16");
  EXPECT_EQ(meta["count"], n);
  EXPECT_EQ(meta["index_sha256"], sha256_hex(read_file(dir + "/index.faiss")));
  EXPECT_EQ(meta["created"].get<std::string>().size(), std::string("2024-01-01T00:00:00Z").size());
}

// A saved Flat index with a few vectors, for the corruption tests.
std::string saved_index(const TempDir& tmp, const std::string& fingerprint = "fp-1") {
  auto base = random_vectors(20, 4, 10);
  auto ids = iota_ids(20);
  Index index(4);
  index.set_model_fingerprint(fingerprint);
  index.add(base.data(), ids.data(), 20);
  const std::string dir = tmp.file("idx");
  index.save(dir);
  return dir;
}

void expect_format_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected FormatError";
  } catch (const FormatError& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(Index, ChecksumMismatchRefused) {
  TempDir tmp;
  auto dir = saved_index(tmp);
  std::string bytes = read_file(dir + "/index.faiss");
  bytes[bytes.size() / 2] ^= 0x01;
  write_file_atomic(dir + "/index.faiss", bytes);
  expect_format_error([&] { Index::load(dir); }, {"index.faiss", "index_sha256"});
}

TEST(Index, WrongFingerprintOrDimRefused) {
  TempDir tmp;
  auto dir = saved_index(tmp, "fp-1");
  expect_format_error([&] { Index::load(dir, "fp-2"); }, {"fp-1", "fp-2"});
  expect_format_error([&] { Index::load(dir, "", 8); }, {"4", "8"});
  EXPECT_EQ(Index::load(dir, "fp-1", 4).size(), 20);
  EXPECT_EQ(Index::load(dir).size(), 20);
}

TEST(Index, BadMetaRefused) {
  TempDir tmp;
  auto dir = saved_index(tmp);
  const std::string meta_path = dir + "/meta.json";
  const auto good = nlohmann::json::parse(read_file(meta_path));

  write_file_atomic(meta_path, "{not json");
  expect_format_error([&] { Index::load(dir); }, {"meta.json"});

  auto missing = good;
  missing.erase("dim");
  write_file_atomic(meta_path, missing.dump());
  expect_format_error([&] { Index::load(dir); }, {"meta.json", "'dim'"});

  auto wrong_type = good;
  wrong_type["count"] = "twenty";
  write_file_atomic(meta_path, wrong_type.dump());
  expect_format_error([&] { Index::load(dir); }, {"meta.json", "/count"});

  auto future = good;
  future["format_version"] = 99;
  write_file_atomic(meta_path, future.dump());
  expect_format_error([&] { Index::load(dir); }, {"format_version"});

  auto metric = good;
  metric["metric"] = "l2";
  write_file_atomic(meta_path, metric.dump());
  expect_format_error([&] { Index::load(dir); }, {"metric"});

  auto count = good;
  count["count"] = 21;
  write_file_atomic(meta_path, count.dump());
  expect_format_error([&] { Index::load(dir); }, {"count"});

  // FAISS itself refusing the bytes (with a digest that matches them) is still a FormatError.
  auto garbage = good;
  garbage["index_sha256"] = sha256_hex("garbage");
  write_file_atomic(dir + "/index.faiss", "garbage");
  write_file_atomic(meta_path, garbage.dump());
  expect_format_error([&] { Index::load(dir); }, {"FAISS"});

  EXPECT_THROW(Index::load(tmp.file("missing")), IoError);
}

TEST(Index, ConcurrentSearchesMatchSerialResults) {
  const int dim = 16, n = 400, nq = 64, k = 5;
  auto base = random_vectors(n, dim, 11);
  auto ids = iota_ids(n);
  Index index(dim, "HNSW16");
  index.add(base.data(), ids.data(), n);
  auto queries = random_vectors(nq, dim, 12);
  std::vector<SearchResult> serial;
  for (int q = 0; q < nq; ++q) serial.push_back(index.search(queries.data() + q * dim, 1, k));

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        int q = (t * 7 + round) % nq;
        auto r = index.search(queries.data() + q * dim, 1, k);
        if (r.ids != serial[q].ids || r.scores != serial[q].scores) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Index, SearchWhileAdding) {
  const int dim = 8, batch = 50, batches = 20;
  Index index(dim, "HNSW16");
  auto first = random_vectors(batch, dim, 13);
  auto first_ids = iota_ids(batch);
  index.add(first.data(), first_ids.data(), batch);
  auto all = random_vectors(int64_t(batch) * batches, dim, 14);
  auto queries = random_vectors(8, dim, 15);

  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 8; ++t) {
    searchers.emplace_back([&, t] {
      while (!done) {
        auto r = index.search(queries.data() + t * dim, 1, 10);
        // Ids come from the adds so far; never garbage, always full rows once 50 are in.
        for (int64_t id : r.ids) {
          if (id < 0 || id >= int64_t(batch) * (batches + 1)) ++bad;
        }
      }
    });
  }
  for (int b = 0; b < batches; ++b) {
    auto ids = iota_ids(batch, int64_t(batch) * (b + 1));
    index.add(all.data() + size_t(b) * batch * dim, ids.data(), batch);
  }
  done = true;
  for (auto& th : searchers) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(index.size(), int64_t(batch) * (batches + 1));
}

TEST(Index, MoveKeepsContents) {
  Index a(2);
  const float v[] = {1, 0};
  const int64_t id = 3;
  a.add(v, &id, 1);
  Index b = std::move(a);
  EXPECT_EQ(b.size(), 1);
  EXPECT_EQ(b.search(v, 1, 1).ids[0], 3);
}

}  // namespace
}  // namespace lrem
