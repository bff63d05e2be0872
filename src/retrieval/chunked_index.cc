#include "retrieval/chunked_index.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <vector>

#include "lrem/error.h"
#include "retrieval/shard_merge.h"

namespace lrem {

namespace {

// Every step-th vector of the catalogue (about `want` of them), read chunk by chunk.
std::vector<float> training_sample(const EmbeddingChunks& chunks, int64_t want, int64_t& rows) {
  const int64_t total = chunks.total_rows();
  const int64_t step = std::max<int64_t>(1, total / std::max<int64_t>(1, want));
  std::vector<float> sample;
  rows = 0;
  int64_t global = 0;
  for (int64_t c = 0; c < chunks.count() && rows < want; ++c) {
    const int64_t n = chunks.rows(c);
    // Chunks holding no sampled row are not read.
    const int64_t first = (global + step - 1) / step * step;
    if (first < global + n) {
      const EmbeddingChunks::Chunk chunk = chunks.read(c);
      for (int64_t g = first; g < global + n && rows < want; g += step, ++rows) {
        const float* row = chunk.vectors.data() + (g - global) * chunks.dim();
        sample.insert(sample.end(), row, row + chunks.dim());
      }
    }
    global += n;
  }
  return sample;
}

void add_chunks(Index& index, const EmbeddingChunks& chunks, int64_t first, int64_t last) {
  for (int64_t c = first; c < last; ++c) {
    const EmbeddingChunks::Chunk chunk = chunks.read(c);
    index.add(chunk.vectors.data(), chunk.ids.data(), int64_t(chunk.ids.size()), /*normalized=*/true);
  }
}

}  // namespace

int64_t build_index_from_chunks(const EmbeddingChunks& chunks, DataParallel& dp, const ChunkedIndexOptions& options) {
  if (options.work_dir.empty()) throw InvalidArgument("build_index_from_chunks: a work_dir is required");
  if (options.output.empty() || options.items_path.empty())
    throw InvalidArgument("build_index_from_chunks: an output directory and the items file are required");
  if (chunks.total_rows() == 0) throw InvalidArgument("cannot build an index from an empty catalogue");
  Index empty(chunks.dim(), options.factory);
  empty.set_model_fingerprint(chunks.model_fingerprint());
  if (options.ef_construction != 0) empty.set_ef_construction(options.ef_construction);
  // HNSW graphs cannot be merged: one rank builds them.
  const bool mergeable = empty.hnsw_m() == 0;
  if (!mergeable) {
    if (!dp.is_main()) return 0;
    add_chunks(empty, chunks, 0, chunks.count());
    empty.save(options.output, options.items_path);
    return empty.size();
  }
  const std::string trained_dir = options.work_dir + "/trained";
  const auto shard_dir = [&](int rank) { return options.work_dir + "/shard-" + std::to_string(rank); };
  bool streams = false;
  dp.collectively([&] {
    if (!dp.is_main()) return;
    if (!empty.is_trained()) {
      int64_t rows = 0;
      const std::vector<float> sample = training_sample(chunks, options.train_size, rows);
      if (!options.quiet) std::cerr << "lrem: rank 0: training '" << options.factory << "' on " << rows << " vectors\n";
      empty.train(sample.data(), rows, /*normalized=*/true);
    }
    empty.save(trained_dir);
    streams = shard_merge_streams(trained_dir);
  });
  std::optional<Index> shard = Index::load(trained_dir, chunks.model_fingerprint(), chunks.dim());
  dp.collectively([&] {
    add_chunks(*shard, chunks, chunks.count() * dp.rank() / dp.world_size(),
               chunks.count() * (dp.rank() + 1) / dp.world_size());
    // Rank 0 keeps its shard to merge the others into, unless the merge streams from files.
    if (dp.rank() != 0 || streams) shard->save(shard_dir(dp.rank()));
  });
  if (!dp.is_main()) return 0;
  if (streams) {
    shard.reset();  // on disk now: the merge reads every shard from its file
    std::vector<std::string> shards;
    for (int r = 0; r < dp.world_size(); ++r) shards.push_back(shard_dir(r));
    save_merged_shards(trained_dir, shards, options.output, options.items_path);
    return chunks.total_rows();
  }
  for (int r = 1; r < dp.world_size(); ++r) {
    Index other = Index::load(shard_dir(r), chunks.model_fingerprint(), chunks.dim());
    shard->merge_from(other);
  }
  shard->save(options.output, options.items_path);
  return shard->size();
}

}  // namespace lrem
