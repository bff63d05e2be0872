#include "retrieval/shard_merge.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <numeric>
#include <random>

#include "lrem/error.h"
#include "lrem/index.h"
#include "lrem/retriever.h"
#include "test_support.h"
#include "util/file_io.h"

namespace lrem {
namespace {

using testing::TempDir;
using testing::random_vectors;

// A trained index saved as <tmp>/trained and `sizes.size()` shards of it holding the given
// numbers of vectors (ids in one run over the shards, from 1000), as a distributed build
// leaves them; and items.jsonl naming those ids.
struct Shards {
  std::string trained;
  std::vector<std::string> dirs;
  std::string items;
};

Shards make_shards(const TempDir& tmp, const std::string& factory, const std::vector<int64_t>& sizes,
                   int64_t first_id_of_last = -1) {
  const int dim = 16;
  Shards out;
  out.trained = tmp.file("trained");
  Index trained(dim, factory);
  trained.set_model_fingerprint("fp");
  const auto sample = random_vectors(1100, dim, 1);
  trained.train(sample.data(), 1100);
  trained.save(out.trained);
  std::ofstream items(out.items = tmp.file("items.jsonl"));
  int64_t next = 1000;
  for (size_t s = 0; s < sizes.size(); ++s) {
    if (s + 1 == sizes.size() && first_id_of_last >= 0) next = first_id_of_last;
    Index shard = Index::load(out.trained, "fp", dim);
    std::vector<int64_t> ids(size_t(sizes[s]));
    std::iota(ids.begin(), ids.end(), next);
    next += sizes[s];
    const auto x = random_vectors(sizes[s], dim, uint32_t(10 + s));
    shard.add(x.data(), ids.data(), sizes[s]);
    out.dirs.push_back(tmp.file("shard-" + std::to_string(s)));
    shard.save(out.dirs.back());
    for (int64_t id : ids) items << "{\"id\": " << id << ", \"title\": \"item " << id << "\"}\n";
  }
  return out;
}

// The directory Index::merge_from of the loaded shards and Index::save write.
std::string merged_in_memory(const TempDir& tmp, const Shards& shards) {
  Index into = Index::load(shards.dirs[0]);
  for (size_t s = 1; s < shards.dirs.size(); ++s) {
    Index other = Index::load(shards.dirs[s]);
    into.merge_from(other);
  }
  const std::string dir = tmp.file("in-memory");
  into.save(dir, shards.items);
  return dir;
}

class IndexShardMerge : public ::testing::TestWithParam<std::string> {};

// Dense (most lists non-empty) and sparse list tables, and each kind of codes.
INSTANTIATE_TEST_SUITE_P(Factories, IndexShardMerge,
                         ::testing::Values("IVF8,Flat", "IVF16,PQ4np", "IVF8,SQ8", "IVF1024,Flat"));

TEST_P(IndexShardMerge, WritesTheFileTheInMemoryMergeWrites) {
  TempDir tmp;
  const Shards shards = make_shards(tmp, GetParam(), {300, 0, 250, 120});
  ASSERT_TRUE(shard_merge_streams(shards.trained));
  const std::string expected = merged_in_memory(tmp, shards);
  const std::string dir = tmp.file("streamed");
  save_merged_shards(shards.trained, shards.dirs, dir, shards.items);

  EXPECT_EQ(read_file(dir + "/index.faiss"), read_file(expected + "/index.faiss"));
  const auto queries = random_vectors(20, 16, 99);
  for (bool mmap : {false, true}) {
    Index index = Index::load(dir, "fp", 16, mmap);
    ASSERT_EQ(index.size(), 670);
    index.set_nprobe(8);
    Index same = Index::load(expected, "fp", 16);
    same.set_nprobe(8);
    const SearchResult a = index.search(queries.data(), 20, 10), b = same.search(queries.data(), 20, 10);
    EXPECT_EQ(a.ids, b.ids) << "mmap " << mmap;
    EXPECT_EQ(a.scores, b.scores) << "mmap " << mmap;
  }
  EXPECT_EQ(load_index_items(dir).size(), 670u);
}

TEST(IndexShardMergeLimits, OnlyIvfStreams) {
  TempDir tmp;
  Index flat(16, "Flat");
  flat.save(tmp.file("flat"));
  EXPECT_FALSE(shard_merge_streams(tmp.file("flat")));
  EXPECT_THROW(save_merged_shards(tmp.file("flat"), {}, tmp.file("out"), tmp.file("items.jsonl")), InvalidArgument);
}

TEST(IndexShardMergeLimits, RefusesACorruptShardAndSharedIdsBeforeCommitting) {
  TempDir tmp;
  const Shards corrupt = make_shards(tmp, "IVF8,Flat", {100, 100});
  std::string bytes = read_file(corrupt.dirs[1] + "/index.faiss");
  bytes[bytes.size() / 2] ^= 1;
  write_file_atomic(corrupt.dirs[1] + "/index.faiss", bytes);
  EXPECT_THROW(save_merged_shards(corrupt.trained, corrupt.dirs, tmp.file("out"), corrupt.items), FormatError);
  EXPECT_FALSE(Index::exists(tmp.file("out")));

  TempDir tmp2;
  const Shards shared = make_shards(tmp2, "IVF8,Flat", {100, 100}, /*first_id_of_last=*/1050);
  EXPECT_THROW(save_merged_shards(shared.trained, shared.dirs, tmp2.file("out"), shared.items), Error);
  EXPECT_FALSE(Index::exists(tmp2.file("out")));
}


// A build's sub-shards: many small shards, some empty, as bounded runs of chunks leave them.
TEST(IndexShardMergeMany, SixtySmallShardsWriteTheFileTheInMemoryMergeWrites) {
  TempDir tmp;
  std::vector<int64_t> sizes;
  for (int s = 0; s < 60; ++s) sizes.push_back(s % 7 == 3 ? 0 : 5 + s * 13 % 31);
  const Shards shards = make_shards(tmp, "IVF16,PQ4np", sizes);
  const std::string dir = tmp.file("streamed");
  save_merged_shards(shards.trained, shards.dirs, dir, shards.items);
  EXPECT_EQ(read_file(dir + "/index.faiss"), read_file(merged_in_memory(tmp, shards) + "/index.faiss"));
}

// Lowers this process's open-file limit for the test's duration.
class OpenFileLimit {
 public:
  explicit OpenFileLimit(rlim_t files) {
    getrlimit(RLIMIT_NOFILE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = files;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  ~OpenFileLimit() { setrlimit(RLIMIT_NOFILE, &previous_); }

 private:
  rlimit previous_;
};

TEST(IndexShardMergeLimits, RefusesMoreShardsThanFilesItMayOpenBeforeCommitting) {
  TempDir tmp;
  const Shards shards = make_shards(tmp, "IVF8,Flat", std::vector<int64_t>(40, 3));
  {
    const OpenFileLimit limit(100);  // 40 shards and 64 spare descriptors do not fit
    EXPECT_THROW(require_open_files_for_merge(40), LimitExceeded);
    EXPECT_NO_THROW(require_open_files_for_merge(30));
    try {
      save_merged_shards(shards.trained, shards.dirs, tmp.file("out"), shards.items);
      ADD_FAILURE() << "merged 40 shards with 100 files allowed";
    } catch (const LimitExceeded& e) {
      EXPECT_NE(std::string(e.what()).find("ulimit -n"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(Index::exists(tmp.file("out")));
  save_merged_shards(shards.trained, shards.dirs, tmp.file("out"), shards.items);
  EXPECT_EQ(Index::load(tmp.file("out")).size(), 120);
}

}  // namespace
}  // namespace lrem
