// lrem embed: queries or items to a .npy matrix (one row per input, in input order), or items
// to a directory of resumable chunks, by every rank of a torchrun job (--chunks-dir).
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "util/file_io.h"
#include "lrem/dataset.h"
#include "lrem/error.h"
#include "model/distributed.h"
#include "retrieval/chunked_encoding.h"
#include "util/npy.h"
#include <nlohmann/json.hpp>

namespace lrem::cli {

void add_embed(CLI::App& app) {
  struct Args {
    EmbedderArgs common;
    std::string queries, items, output, cots, mode = "reason", chunks_dir;
    uint64_t chunk_bytes = ChunkedEncodingOptions{}.chunk_bytes;
    std::vector<std::string> texts;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("embed", "Embed queries (with reasoning) or items into a .npy matrix");
  args->common.add_to(cmd);
  auto* q = cmd->add_option("--queries", args->queries, "Queries JSONL ({\"id\", \"text\"} per line)");
  auto* i = cmd->add_option("--items", args->items, "Items JSONL ({\"id\", \"title\"} per line)");
  auto* t = cmd->add_option("--text", args->texts, "Query text(s) given inline");
  q->excludes(i)->excludes(t);
  i->excludes(t);
  auto* o = cmd->add_option("--output,-o", args->output, "Output .npy (float32, rows x dim)");
  auto* d = cmd->add_option("--chunks-dir", args->chunks_dir,
                            "With --items: write resumable checksummed chunks here instead of one .npy; runs as "
                            "every rank of a torchrun job (docs/SCALE.md)");
  d->excludes(o)->needs(i);
  cmd->add_option("--chunk-bytes", args->chunk_bytes, "Bytes of items.jsonl per chunk (--chunks-dir)")
      ->capture_default_str();
  cmd->add_option("--mode", args->mode, "Query mode: reason or direct")->capture_default_str();
  cmd->add_option("--cots", args->cots, "Also write each query's CoT as JSONL to this file");
  cmd->callback([args] {
    if (!args->chunks_dir.empty()) {
      std::unique_ptr<DataParallel> dp = DataParallel::from_environment();
      EmbedderArgs quiet = args->common;
      quiet.quiet = true;  // one line per chunk instead of the per-batch progress line
      ChunkedEncodingOptions options;
      options.chunk_bytes = args->chunk_bytes;
      options.quiet = args->common.quiet;
      const ChunkedEncodingReport r =
          encode_items_chunked(quiet.make_embedder(), args->items, args->chunks_dir, *dp, options);
      std::cout << "lrem embed: rank " << dp->rank() << ": encoded " << r.encoded << " chunks (" << r.items_encoded
                << " items), skipped " << r.skipped << " finished chunks, re-encoded " << r.reencoded << std::endl;
      return;
    }
    if (args->output.empty()) throw InvalidArgument("give --output FILE.npy (or --items with --chunks-dir DIR)");
    const QueryMode mode = parse_query_mode(args->mode);
    std::vector<std::string> ids, texts;
    if (!args->items.empty()) {
      for (const Item& it : read_items(args->items)) {
        ids.push_back(std::to_string(it.id));
        texts.push_back(it.title);
      }
    } else if (!args->queries.empty()) {
      for (const Query& qu : read_queries(args->queries)) {
        ids.push_back(qu.id);
        texts.push_back(qu.text);
      }
    } else if (!args->texts.empty()) {
      for (size_t k = 0; k < args->texts.size(); ++k) ids.push_back(std::to_string(k));
      texts = args->texts;
    } else {
      throw InvalidArgument("give one of --queries FILE, --items FILE or --text TEXT");
    }
    if (texts.empty()) throw InvalidArgument("nothing to embed: the input file has no records");
    Embedder embedder = args->common.make_embedder();
    Embeddings e = args->items.empty() ? embedder.embed_queries(texts, mode) : embedder.embed_items(texts);
    write_npy(args->output, e.data.data(), e.rows, e.dim);
    if (!args->cots.empty()) {
      std::string lines;
      for (size_t k = 0; k < texts.size(); ++k)
        lines += nlohmann::json{{"id", ids[k]}, {"text", texts[k]}, {"cot", e.cots[k]}, {"truncated", bool(e.truncated[k])}}
                     .dump() + "\n";
      write_file_atomic(args->cots, lines);
    }
    if (!args->common.quiet)
      std::cerr << "lrem embed: wrote " << e.rows << " x " << e.dim << " float32 to " << args->output << "\n";
  });
}

}  // namespace lrem::cli
