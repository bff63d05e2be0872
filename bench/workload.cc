// Writes the exact token sequences lrem embeds (item prompts, query prompts up to <think>)
// and lrem's own embeddings of the first few, so bench/pytorch_baseline.py runs the same
// work on the same weights and checks it computes the same function.
//
//   bench_workload --model DIR --items items.jsonl --queries queries.jsonl --out workload.json
#include "bench_common.h"
#include "util/file_io.h"
#include "lrem/embedder.h"
#include "model/model_access.h"

using namespace lrem;

namespace {

nlohmann::json rows(const Embeddings& e) {
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < e.rows; ++i) out.push_back(std::vector<float>(e.row(i), e.row(i) + e.dim));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_workload", [&] {
    const bench::Args args(argc, argv, {"model", "items", "queries", "out", "count", "check"});
    const Model model = Model::load(args.required("model"));
    const PromptFormat& prompt = ModelAccess::parts(model).prompt();
    const auto titles = bench::read_jsonl_strings(args.required("items"), "title", args.integer("count", 512));
    const auto queries = bench::read_jsonl_strings(args.required("queries"), "text", args.integer("count", 512));
    nlohmann::json items = nlohmann::json::array(), query_prompts = nlohmann::json::array();
    for (const auto& t : titles) items.push_back(prompt.item(t).ids);
    for (const auto& q : queries) query_prompts.push_back(prompt.query_prompt(q).ids);

    const size_t check = static_cast<size_t>(args.integer("check", 4));
    EmbedderOptions options;
    options.cot_cache_capacity = 0;
    const Embedder embedder(model, options);
    const std::vector<std::string> check_titles(titles.begin(), titles.begin() + check);
    const std::vector<std::string> check_queries(queries.begin(), queries.begin() + check);
    const nlohmann::json workload = {
        {"items", items},
        {"queries", query_prompts},
        {"think_close_id", prompt.think_close_id()},
        {"emb_id", prompt.emb_id()},
        {"max_cot_tokens", model.prompt_config().max_cot_tokens},
        {"reference",
         {{"items", rows(embedder.embed_items(check_titles))},
          {"queries_direct", rows(embedder.embed_queries(check_queries, QueryMode::Direct))},
          {"queries_reason", rows(embedder.embed_queries(check_queries, QueryMode::Reason))}}}};
    write_file_atomic(args.required("out"), workload.dump());
    bench::emit({{"bench", "workload"}, {"items", items.size()}, {"queries", query_prompts.size()}});
  });
}
