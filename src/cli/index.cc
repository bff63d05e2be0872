// lrem index build: items JSONL -> an index directory (FAISS index, metadata, items.jsonl).
#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "lrem/error.h"
#include "lrem/retriever.h"

namespace lrem::cli {

void add_index(CLI::App& app) {
  struct Args {
    EmbedderArgs common;
    std::string items, output, factory = "Flat";
    int ef_construction = 0;
    bool overwrite = false;
  };
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
  add_index_updates(*index);
  build->callback([args] {
    auto start = std::chrono::steady_clock::now();
    // Refused before the long embedding run, not after it.
    if (!args->overwrite && Index::exists(args->output))
      throw InvalidArgument("'" + args->output + "' already holds an index; pass --overwrite to replace it and its "
                            "catalogue, or choose another directory");
    ItemStore items = ItemStore::load(args->items);
    Embedder embedder = args->common.make_embedder();
    if (!args->common.quiet) std::cerr << "lrem index build: embedding " << items.size() << " items\n";
    Index empty(embedder.dim(), args->factory);
    if (args->ef_construction != 0) empty.set_ef_construction(args->ef_construction);
    Index index = build_index(embedder, items, std::move(empty));
    save_index(index, items, args->output, args->overwrite);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "lrem index build: " << index.size() << " items, dim " << index.dim() << ", " << args->factory
              << " -> " << args->output << " (" << secs << " s)" << std::endl;
  });
}

}  // namespace lrem::cli
