// lrem search: one query against an index directory; prints the CoT and the ranked items.
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "lrem/retriever.h"
#include "retrieval/search_json.h"

namespace lrem::cli {

void add_search(CLI::App& app) {
  struct Args {
    EmbedderArgs common;
    std::string index, items, mode = "reason";
    std::vector<std::string> queries;
    int k = 10;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("search", "Search an index: reason (or not), embed, retrieve");
  args->common.add_to(cmd);
  cmd->add_option("--index", args->index, "Index directory from `lrem index build`")->required();
  cmd->add_option("--items", args->items, "Items JSONL; default the catalogue saved with the index");
  cmd->add_option("--query,-q", args->queries, "Query text (repeat for several)")->required();
  cmd->add_option("-k", args->k, "Number of results")->capture_default_str();
  cmd->add_option("--mode", args->mode,
                  "reason (generate a CoT first), direct, or auto (direct, then reason where the best direct hit "
                  "scores below the index's router.json threshold)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Machine-readable output: one JSON object per query, as POST /search answers");
  cmd->callback([args] {
    args->common.quiet = true;  // nothing long-running here; keep stdout clean
    const Retriever r = Retriever::open(args->index, args->common.make_embedder(), args->items);
    const QueryMode mode = parse_query_mode(args->mode);
    for (const SearchResponse& res : r.search_many(args->queries, args->k, mode)) {
      if (args->json) {
        std::cout << search_response_json(res).dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
        continue;
      }
      std::cout << "query: " << res.query << (res.truncated ? "  (truncated to the model's query limit)" : "") << "\n";
      if (mode == QueryMode::Auto) std::cout << "mode:  " << to_string(res.mode) << " (auto)\n";
      if (res.mode == QueryMode::Reason) std::cout << "cot:   " << res.cot << "\n";
      for (size_t i = 0; i < res.hits.size(); ++i)
        std::cout << std::setw(4) << i + 1 << ". " << std::fixed << std::setprecision(4) << res.hits[i].score << "  ["
                  << res.hits[i].id << "] " << res.hits[i].title << "\n";
      std::cout << std::endl;
    }
  });
}

}  // namespace lrem::cli
