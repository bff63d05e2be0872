#include "retrieval/chunked_index.h"

#include <malloc.h>

#include <algorithm>
#include <iostream>
#include <string>
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

// The chunks [first, last).
struct ChunkRun {
  int64_t first, last;
};

// The contiguous run of chunks rank `rank` of `world` adds, as the encoding split them.
ChunkRun share(const EmbeddingChunks& chunks, int rank, int world) {
  return {chunks.count() * rank / world, chunks.count() * (rank + 1) / world};
}

// `run` cut into consecutive runs of at most `budget` vectors each (a chunk holding more is a
// run of its own): the sub-shards of a streamed build.
std::vector<ChunkRun> sub_shards(const EmbeddingChunks& chunks, ChunkRun run, int64_t budget) {
  std::vector<ChunkRun> runs;
  int64_t rows = 0;
  for (int64_t c = run.first; c < run.last; ++c) {
    if (runs.empty() || rows + chunks.rows(c) > budget) {
      runs.push_back({c, c});
      rows = 0;
    }
    runs.back().last = c + 1;
    rows += chunks.rows(c);
  }
  return runs;
}

}  // namespace

int64_t build_index_from_chunks(const EmbeddingChunks& chunks, DataParallel& dp, const ChunkedIndexOptions& options) {
  if (options.work_dir.empty()) throw InvalidArgument("build_index_from_chunks: a work_dir is required");
  if (options.output.empty() || options.items_path.empty())
    throw InvalidArgument("build_index_from_chunks: an output directory and the items file are required");
  if (chunks.total_rows() == 0) throw InvalidArgument("cannot build an index from an empty catalogue");
  if (options.shard_vectors <= 0)
    throw InvalidArgument("build_index_from_chunks: shard_vectors must be positive, got " +
                          std::to_string(options.shard_vectors));
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
  const auto load_trained = [&] { return Index::load(trained_dir, chunks.model_fingerprint(), chunks.dim()); };
  // A streamed build's sub-shards of rank r, <work_dir>/shard-<r>-<k>, and all of them in chunk order.
  const auto runs_of = [&](int rank) {
    return sub_shards(chunks, share(chunks, rank, dp.world_size()), options.shard_vectors);
  };
  const auto sub_shard_dir = [&](int rank, size_t k) { return shard_dir(rank) + "-" + std::to_string(k); };
  const auto all_sub_shard_dirs = [&] {
    std::vector<std::string> dirs;
    for (int r = 0; r < dp.world_size(); ++r) {
      const size_t count = runs_of(r).size();
      for (size_t k = 0; k < count; ++k) dirs.push_back(sub_shard_dir(r, k));
    }
    return dirs;
  };
  dp.collectively([&] {
    if (!dp.is_main()) return;
    if (!empty.is_trained()) {
      int64_t rows = 0;
      const std::vector<float> sample = training_sample(chunks, options.train_size, rows);
      if (!options.quiet) std::cerr << "lrem: rank 0: training '" << options.factory << "' on " << rows << " vectors\n";
      empty.train(sample.data(), rows, /*normalized=*/true);
    }
    empty.save(trained_dir);
    // Refused now rather than after every rank has added its vectors (rank 0 reads the
    // trained index, a few MB, once more below, as every rank does).
    if (shard_merge_streams(trained_dir)) require_open_files_for_merge(all_sub_shard_dirs().size());
  });
  if (shard_merge_streams(trained_dir)) {
    // This run rewrites every sub-shard the merge reads, after the barrier of the training, so
    // none that a killed run left behind is ever merged.
    dp.collectively([&] {
      const std::vector<ChunkRun> runs = runs_of(dp.rank());
      for (size_t k = 0; k < runs.size(); ++k) {
        {
          // Each sub-shard starts from the trained index as saved: reading back its quantizer
          // and codebooks costs little next to adding up to shard_vectors vectors.
          Index sub = load_trained();
          add_chunks(sub, chunks, runs[k].first, runs[k].last);
          sub.save(sub_shard_dir(dp.rank(), k));
          if (!options.quiet)
            std::cerr << "lrem: rank " << dp.rank() << ": sub-shard " << k + 1 << " of " << runs.size() << ": "
                      << sub.size() << " vectors\n";
        }
        // The freed sub-shard's pages go back to the kernel: glibc keeps up to its trim
        // threshold (64 MiB in the lrem command, src/cli/malloc_settings.h) resident, and the
        // next sub-shard's allocations do not reuse all of it (7 MB lower peak, docs/SCALE.md).
        malloc_trim(0);
      }
    });
    if (!dp.is_main()) return 0;
    save_merged_shards(trained_dir, all_sub_shard_dirs(), options.output, options.items_path);
    return chunks.total_rows();
  }
  Index shard = load_trained();
  dp.collectively([&] {
    const ChunkRun own = share(chunks, dp.rank(), dp.world_size());
    add_chunks(shard, chunks, own.first, own.last);
    // Rank 0 keeps its shard to merge the others into.
    if (dp.rank() != 0) shard.save(shard_dir(dp.rank()));
  });
  if (!dp.is_main()) return 0;
  for (int r = 1; r < dp.world_size(); ++r) {
    Index other = Index::load(shard_dir(r), chunks.model_fingerprint(), chunks.dim());
    shard.merge_from(other);
  }
  shard.save(options.output, options.items_path);
  return shard.size();
}

}  // namespace lrem
