// lrem curate: stage-1 triplets from teacher CoTs (a file of them, or a teacher LLM asked
// here), kept where the CoT helps a baseline retriever.
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "util/progress.h"
#include "util/file_io.h"
#include "lrem/curation.h"
#include "lrem/error.h"
#include "lrem/teacher.h"

namespace lrem::cli {

void add_curate(CLI::App& app) {
  struct Args {
    EmbedderArgs common;
    std::string items, queries, qrels, teacher_cots, teacher, teacher_prompt, teacher_system, teacher_cache, output,
        baseline = "bm25", index, stop_words, backbone;
    bool no_stop_words = false;
    CurationOptions options;
    TeacherOptions teacher_options;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "curate", "Curate stage-1 triplets: keep teacher CoTs that make a baseline retriever find relevant items");
  args->common.add_to(cmd);
  cmd->get_option("--model")->required(false)->description("Model directory (for --baseline direct)");
  cmd->add_option("--items", args->items, "Items JSONL")->required();
  cmd->add_option("--queries", args->queries, "Queries JSONL")->required();
  cmd->add_option("--qrels", args->qrels, "Judgements JSONL")->required();
  TeacherOptions& t = args->teacher_options;
  auto* cots = cmd->add_option("--teacher-cots", args->teacher_cots,
                               "JSONL of {\"query_id\" or \"query\", \"cot\"} (e.g. the benchmark's triplets_train.jsonl)");
  auto* teacher = cmd->add_option("--teacher", args->teacher,
                                  "A teacher LLM to write the keywords: a model directory, or an OpenAI-compatible "
                                  "URL (http://host:port/v1)");
  cots->excludes(teacher);
  teacher->excludes(cots);
  cmd->add_option("--teacher-prompt", args->teacher_prompt, "The user message, with {query}; default: see docs/TRAINING.md");
  cmd->add_option("--teacher-system", args->teacher_system, "The system message; default: see docs/TRAINING.md");
  cmd->add_option("--teacher-model", t.model, "URL teacher: the request's \"model\" (vLLM needs the served name)");
  cmd->add_option("--teacher-cache", args->teacher_cache,
                  "JSONL of the teacher's answers, resumed on a rerun; default <output>.teacher.jsonl");
  cmd->add_option("--teacher-max-tokens", t.max_tokens, "Longest answer, in tokens")->capture_default_str();
  cmd->add_option("--teacher-temperature", t.temperature, "0: greedy")->capture_default_str();
  cmd->add_option("--teacher-batch", t.batch_size, "Model directory: queries generated together")->capture_default_str();
  cmd->add_option("--teacher-concurrency", t.concurrency, "URL: requests in flight")->capture_default_str();
  cmd->add_option("--teacher-retries", t.max_retries, "URL: retries of a request on 429, 5xx or connection errors")
      ->capture_default_str();
  cmd->add_option("--teacher-timeout", t.timeout_seconds, "URL: seconds to connect, and for each read and write")
      ->capture_default_str();
  cmd->add_option("--api-key-env", t.api_key_env,
                  "URL: the environment variable holding the API key (sent as a Bearer token when set)")
      ->capture_default_str();
  cmd->add_option("--output,-o", args->output, "Triplets JSONL to write")->required();
  cmd->add_option("--baseline", args->baseline, "bm25, or direct (the model embedding without a CoT)")
      ->capture_default_str();
  cmd->add_option("--index", args->index, "For --baseline direct: an index directory (else a Flat index is built)");
  cmd->add_option("-k", args->options.k, "Baseline depth")->capture_default_str();
  cmd->add_option("--relevance-threshold", args->options.relevance_threshold, "Lowest grade that counts as relevant")
      ->capture_default_str();
  cmd->add_option("--backbone", args->backbone,
                  "The model to be trained: each CoT is cut to its max_cot_tokens tokens (lrem_config.json)");
  cmd->add_option("--stop-words", args->stop_words, "File of stop words (whitespace-separated); default: English");
  cmd->add_flag("--no-stop-words", args->no_stop_words, "Use no stop list");
  cmd->callback([args] {
    Args& a = *args;
    if (a.teacher.empty() == a.teacher_cots.empty()) throw InvalidArgument("give --teacher or --teacher-cots");
    if (a.no_stop_words) a.options.stop_words.clear();
    if (!a.stop_words.empty()) {
      if (a.no_stop_words) throw InvalidArgument("give --stop-words or --no-stop-words, not both");
      std::istringstream in(read_file(a.stop_words));
      a.options.stop_words.clear();
      for (std::string w; in >> w;) a.options.stop_words.push_back(w);
    }
    if (!a.common.quiet) a.options.progress = progress_reporter("queries");
    std::optional<Model> backbone;
    if (!a.backbone.empty()) {
      backbone = Model::load(a.backbone);
      a.options.backbone = &*backbone;
    }
    ItemStore items = ItemStore::load(a.items);
    const std::vector<Query> queries = read_queries(a.queries);
    const std::vector<Qrel> qrels = read_qrels(a.qrels);
    Teacher teacher;
    if (a.teacher.empty()) {
      teacher = read_teacher_cots(a.teacher_cots);
    } else {
      TeacherOptions& t = a.teacher_options;
      if (!a.teacher_prompt.empty()) t.prompt.user = a.teacher_prompt;
      if (!a.teacher_system.empty()) t.prompt.system = a.teacher_system;
      t.cache_path = a.teacher_cache.empty() ? a.output + ".teacher.jsonl" : a.teacher_cache;
      if (!a.common.quiet) t.progress = progress_reporter("teacher");
      KeywordTeacher llm(a.teacher, t);
      teacher = llm.teacher(queries);
      const TeacherStats& s = llm.stats();
      std::cout << "lrem curate: teacher " << llm.identity() << ": " << s.queries << " queries, " << s.cached
                << " from the cache, " << s.asked << " asked, " << s.retries << " retries -> " << t.cache_path
                << std::endl;
    }

    CurationResult result;
    if (a.baseline == "bm25") {
      const Bm25 bm25 = Bm25::from_items(items.items());
      result = curate_triplets(queries, qrels, items, teacher, Bm25Baseline(bm25), a.options);
    } else if (a.baseline == "direct") {
      if (a.common.model.empty()) throw InvalidArgument("--baseline direct needs --model");
      Embedder embedder = a.common.make_embedder();
      Index index = a.index.empty() ? build_index(embedder, items, "Flat")
                                    : Index::load(a.index, embedder.fingerprint(), embedder.dim());
      const Retriever retriever(embedder, std::move(index), items);
      result = curate_triplets(queries, qrels, items, teacher, DirectEmbeddingBaseline(retriever), a.options);
    } else {
      throw InvalidArgument("unknown --baseline '" + a.baseline + "': use bm25 or direct");
    }
    result.save(a.output);
    const CurationStats& s = result.stats;
    std::cout << "lrem curate: " << s.queries << " queries, " << s.with_cot << " with a CoT after the rules, " << s.kept
              << " kept (the CoT found a relevant item the query alone missed), " << s.triplets << " triplets -> "
              << a.output << std::endl;
  });
}

}  // namespace lrem::cli
