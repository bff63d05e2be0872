// lrem eval: run a system over judged queries and print its metrics per category.
#include <optional>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "util/progress.h"
#include "util/file_io.h"
#include "lrem/error.h"
#include "lrem/evaluation.h"

namespace lrem::cli {

namespace {

std::vector<int> parse_ks(const std::string& text) {
  std::vector<int> ks;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    try {
      size_t used = 0;
      ks.push_back(std::stoi(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw InvalidArgument("--ks: '" + part + "' is not an integer; give a comma-separated list such as 1,5,10");
    }
  }
  return ks;
}

}  // namespace

void add_eval(CLI::App& app) {
  struct Args {
    EmbedderArgs common;
    std::string index, items, queries, qrels, mode = "reason", cot_source = "generated", system = "embedding";
    std::string ks = "1,5,10,50,100", json, rankings;
    int ndcg_k = 10, depth = 0;
    size_t chunk_size = 256;
    std::optional<float> auto_min_score;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a system (LREM, direct embedding, BM25, ablations) on judged queries");
  args->common.add_to(cmd);
  cmd->get_option("--model")->required(false)->description("Model directory (not needed with --system bm25)");
  cmd->add_option("--index", args->index,
                  "Index directory from `lrem index build` with the same --pooling and --output-dim "
                  "(its item database unless --items)");
  cmd->add_option("--items", args->items, "Items JSONL; without --index, a Flat index is built from it");
  cmd->add_option("--queries", args->queries, "Queries JSONL ({\"id\", \"text\", \"category\"})")->required();
  cmd->add_option("--qrels", args->qrels, "Judgements JSONL ({\"query_id\", \"item_id\", \"relevance\"})")->required();
  cmd->add_option("--system", args->system, "embedding or bm25 (over the same items)")->capture_default_str();
  cmd->add_option("--mode", args->mode,
                  "reason, direct (= --cot-source empty) or auto (direct, then reason where the best direct score "
                  "is below the threshold: --auto-min-score, or the index's router.json)")
      ->capture_default_str();
  cmd->add_option("--auto-min-score", args->auto_min_score,
                  "Mode auto without --index: the direct score below which a query reasons (scripts/fit_router.py)");
  cmd->add_option("--cot-source", args->cot_source,
                  "Reason mode's CoT: generated, empty, random (as many random catalogue words, --seed) or query")
      ->capture_default_str();
  cmd->add_option("--ks", args->ks, "Cut-offs K for HitRate@K (= Recall@K) and Precision@K")->capture_default_str();
  cmd->add_option("--ndcg-k", args->ndcg_k, "NDCG depth")->capture_default_str();
  cmd->add_option("--depth", args->depth, "Ranking length kept per query; 0 = the largest K")->capture_default_str();
  cmd->add_option("--chunk-size", args->chunk_size, "Queries per retrieval step")->capture_default_str();
  cmd->add_option("--json", args->json, "Write the metrics (per group and per query) as JSON here");
  cmd->add_option("--rankings", args->rankings, "Write each query's ranking and CoT as JSON Lines here");
  cmd->callback([args] {
    const Args& a = *args;
    if (a.index.empty() && a.items.empty()) throw InvalidArgument("give --index DIR or --items FILE");
    SystemEvaluationOptions options;
    options.metrics.ks = parse_ks(a.ks);
    options.metrics.ndcg_k = a.ndcg_k;
    options.depth = a.depth;
    options.chunk_size = a.chunk_size;
    options.seed = a.common.embedder.seed;
    options.cot_source = cot_source_for(parse_query_mode(a.mode), parse_cot_source(a.cot_source));
    if (!a.common.quiet) options.progress = progress_reporter("queries");
    const std::vector<Query> queries = read_queries(a.queries);
    const std::vector<Qrel> qrels = read_qrels(a.qrels);

    EvaluationRun run;
    if (a.system == "bm25") {
      const ItemStore items = a.items.empty() ? load_index_items(a.index) : ItemStore::load(a.items);
      if (!a.common.quiet) std::cerr << "lrem eval: BM25 over " << items.size() << " items, " << queries.size() << " queries\n";
      run = evaluate_system(Bm25::from_items(items.items()), queries, qrels, options);
    } else if (a.system == "embedding") {
      if (a.common.model.empty()) throw InvalidArgument("--system embedding needs --model");
      // Item embedding reports its own progress; query progress comes from the evaluator.
      Embedder item_embedder = a.common.make_embedder();
      Embedder embedder(item_embedder.model(), a.common.embedder);
      auto open_retriever = [&] {
        if (!a.index.empty()) {
          if (a.auto_min_score) throw InvalidArgument("--auto-min-score is for --items; an index directory keeps its own in router.json");
          return Retriever::open(a.index, embedder, a.items);
        }
        ItemStore items = ItemStore::load(a.items);
        if (!a.common.quiet) std::cerr << "lrem eval: embedding " << items.size() << " items (Flat index)\n";
        Index index = build_index(item_embedder, items, "Flat");
        std::optional<AutoRouting> routing;
        if (a.auto_min_score) routing = AutoRouting{*a.auto_min_score};
        return Retriever(embedder, std::move(index), std::move(items), routing);
      };
      const Retriever retriever = open_retriever();
      if (!a.common.quiet) std::cerr << "lrem eval: " << queries.size() << " queries\n";
      run = evaluate_system(retriever, queries, qrels, options);
    } else {
      throw InvalidArgument("unknown --system '" + a.system + "': use embedding or bm25");
    }

    std::cout << "system: " << run.system << "\n" << run.report.format_table();
    std::cout << "Recall@K = HitRate@K (the paper's definition). " << run.queries.size() << " queries in "
              << run.seconds << " s (" << (run.seconds > 0 ? run.queries.size() / run.seconds : 0.0) << " queries/s)"
              << std::endl;
    if (!a.json.empty()) write_file_atomic(a.json, run.to_json(/*include_per_query=*/true) + "\n");
    if (!a.rankings.empty()) write_file_atomic(a.rankings, run.rankings_jsonl());
  });
}

}  // namespace lrem::cli
