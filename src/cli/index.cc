// lrem index build: items JSONL -> an index directory (FAISS index, metadata, items.jsonl).
// In one process by default; with --work-dir, or under a launcher that sets WORLD_SIZE
// (torchrun), the catalogue is encoded in resumable chunks by every rank and the index is
// built from them (retrieval/chunked_encoding.h, retrieval/chunked_index.h, docs/SCALE.md).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "lrem/error.h"
#include "lrem/retriever.h"
#include "model/distributed.h"
#include "retrieval/chunked_encoding.h"
#include "retrieval/chunked_index.h"

namespace lrem::cli {

namespace {

struct Args {
  EmbedderArgs common;
  std::string items, output, factory = "Flat", work_dir;
  int ef_construction = 0;
  uint64_t chunk_bytes = ChunkedEncodingOptions{}.chunk_bytes;
  int64_t train_size = ChunkedIndexOptions{}.train_size;
  int64_t shard_vectors = ChunkedIndexOptions{}.shard_vectors;
  bool overwrite = false;
};

// What a build wrote (rank 0), for the summary line.
struct Built {
  int64_t size;
  int dim;
};

// The empty index a build fills. Made before the embedding run, so that a factory string or a
// knob FAISS refuses is reported at once, not after it.
Index empty_index(const Args& args, int dim) {
  Index empty(dim, args.factory);
  if (args.ef_construction != 0) empty.set_ef_construction(args.ef_construction);
  return empty;
}

Built build_in_one_process(const Args& args) {
  Embedder embedder = args.common.make_embedder();
  Index empty = empty_index(args, embedder.dim());
  ItemStore items = ItemStore::load(args.items);
  if (!args.common.quiet) std::cerr << "lrem index build: embedding " << items.size() << " items\n";
  Index index = build_index(embedder, items, std::move(empty));
  save_index(index, items, args.output, args.overwrite);
  return {index.size(), index.dim()};
}

// Every rank encodes its chunks into <work_dir>/embeddings, then they build the index together
// and rank 0 saves it with a streamed copy of items.jsonl.
std::optional<Built> build_from_chunks(const Args& args) {
  std::unique_ptr<DataParallel> dp = DataParallel::from_environment();
  const std::string work = args.work_dir.empty() ? args.output + ".work" : args.work_dir;
  EmbedderArgs quiet = args.common;
  quiet.quiet = true;  // one line per chunk instead of the per-batch progress line
  const Embedder embedder = quiet.make_embedder();
  empty_index(args, embedder.dim());  // the checks only: each rank's copy comes from rank 0's training
  ChunkedEncodingOptions encoding;
  encoding.chunk_bytes = args.chunk_bytes;
  encoding.quiet = args.common.quiet;
  const ChunkedEncodingReport report =
      encode_items_chunked(embedder, args.items, work + "/embeddings", *dp, encoding);
  std::cout << "lrem index build: rank " << dp->rank() << ": encoded " << report.encoded << " chunks ("
            << report.items_encoded << " items), skipped " << report.skipped << " finished chunks, re-encoded "
            << report.reencoded << std::endl;
  ChunkedIndexOptions indexing;
  indexing.factory = args.factory;
  indexing.work_dir = work;
  indexing.output = args.output;
  indexing.items_path = args.items;
  indexing.train_size = args.train_size;
  indexing.shard_vectors = args.shard_vectors;
  indexing.ef_construction = args.ef_construction;
  indexing.quiet = args.common.quiet;
  const int64_t size = build_index_from_chunks(EmbeddingChunks::open(work + "/embeddings"), *dp, indexing);
  if (!dp->is_main()) return std::nullopt;
  // The trained index and the shards were steps of this build; the embeddings stay, so a
  // rebuild with another factory skips the encoding.
  for (const char* step : {"trained", "shard-"})
    for (const auto& entry : std::filesystem::directory_iterator(work))
      if (entry.path().filename().string().rfind(step, 0) == 0) std::filesystem::remove_all(entry.path());
  return Built{size, embedder.dim()};
}

}  // namespace

void add_index(CLI::App& app) {
  auto args = std::make_shared<Args>();
  auto* index = app.add_subcommand("index", "Build vector indexes");
  index->require_subcommand(1);
  auto* build = index->add_subcommand("build", "Embed every item of a catalogue and build an index directory");
  args->common.add_to(build);
  build->add_option("--items", args->items, "Items JSONL ({\"id\": int, \"title\": str, ...})")->required();
  build->add_option("--output,-o", args->output, "Index directory to write")->required();
  build->add_option("--factory", args->factory, "FAISS factory string: Flat, HNSW32, IVF1024,PQ32, ...")
      ->capture_default_str();
  build->add_option("--ef-construction", args->ef_construction,
                    "HNSW construction breadth (0: FAISS's default, 40); M is the factory's number, HNSW32");
  build->add_flag("--overwrite", args->overwrite, "Replace the index and catalogue already in the output directory");
  build->add_option("--work-dir", args->work_dir,
                    "Encode in resumable chunks here, then build from them (default under torchrun: <output>.work)");
  build->add_option("--chunk-bytes", args->chunk_bytes, "Bytes of items.jsonl per chunk (chunked builds)")
      ->capture_default_str();
  build->add_option("--train-size", args->train_size, "Vectors sampled to train IVF/PQ/SQ (chunked builds)")
      ->capture_default_str();
  build->add_option("--shard-vectors", args->shard_vectors,
                    "Vectors a rank adds in memory before saving them as a sub-shard (chunked IVF builds)")
      ->capture_default_str();
  add_index_updates(*index);
  build->callback([args] {
    auto start = std::chrono::steady_clock::now();
    // Refused before the long embedding run, not after it.
    if (!args->overwrite && Index::exists(args->output))
      throw InvalidArgument("'" + args->output + "' already holds an index; pass --overwrite to replace it and its "
                            "catalogue, or choose another directory");
    const bool chunked = !args->work_dir.empty() || std::getenv("WORLD_SIZE");
    const std::optional<Built> index = chunked ? build_from_chunks(*args) : build_in_one_process(*args);
    if (!index) return;  // a rank other than 0 of a distributed build
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "lrem index build: " << index->size << " items, dim " << index->dim << ", " << args->factory
              << " -> " << args->output << " (" << secs << " s)" << std::endl;
  });
}

}  // namespace lrem::cli
