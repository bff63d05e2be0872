#include "lrem/evaluation.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <unordered_set>

#include "lrem/error.h"

namespace lrem {

CotSource parse_cot_source(const std::string& name) {
  if (name == "generated") return CotSource::Generated;
  if (name == "empty") return CotSource::Empty;
  if (name == "random") return CotSource::Random;
  if (name == "query") return CotSource::Query;
  throw InvalidArgument("unknown CoT source '" + name + "': use generated, empty, random or query");
}

const char* to_string(CotSource source) {
  switch (source) {
    case CotSource::Generated: return "generated";
    case CotSource::Empty: return "empty";
    case CotSource::Random: return "random";
    case CotSource::Query: return "query";
    case CotSource::Auto: return "auto";
  }
  return "?";
}

CotSource cot_source_for(QueryMode mode, CotSource requested) {
  if (mode == QueryMode::Reason) return requested;
  if (mode == QueryMode::Auto) {
    if (requested != CotSource::Generated)
      throw InvalidArgument(std::string("auto mode reasons with generated CoTs only; the CoT source '") +
                            to_string(requested) + "' needs reason mode");
    return CotSource::Auto;
  }
  if (requested != CotSource::Generated && requested != CotSource::Empty)
    throw InvalidArgument(std::string("direct mode has no CoT; the CoT source '") + to_string(requested) +
                          "' needs reason mode");
  return CotSource::Empty;
}

namespace {

// Fills out[i] (item ids, scores, CoT) for queries[i] of one chunk.
using ChunkRanker = std::function<void(const std::vector<std::string>& texts, const std::vector<const Query*>& queries,
                                       int depth, std::vector<QueryRun>& out)>;

int ranking_depth(const SystemEvaluationOptions& options) {
  if (options.depth < 0) throw InvalidArgument("depth must be >= 0 (0 = the largest K), got " + std::to_string(options.depth));
  if (options.depth > 0) return options.depth;
  int depth = options.metrics.ndcg_k;
  for (int k : options.metrics.ks) depth = std::max(depth, k);
  return depth;
}

EvaluationRun run_system(const std::string& system, const std::vector<Query>& queries, const std::vector<Qrel>& qrels,
                         const SystemEvaluationOptions& options, const ChunkRanker& rank) {
  if (options.chunk_size == 0) throw InvalidArgument("chunk_size must be positive");
  const int depth = ranking_depth(options);
  std::unordered_set<std::string> ids;
  for (const Query& q : queries) {
    if (!ids.insert(q.id).second) throw InvalidArgument("query id \"" + q.id + "\" appears twice");
  }

  EvaluationRun run;
  run.system = system;
  run.queries.resize(queries.size());
  const auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < queries.size(); begin += options.chunk_size) {
    const size_t end = std::min(queries.size(), begin + options.chunk_size);
    std::vector<std::string> texts;
    std::vector<const Query*> chunk;
    for (size_t i = begin; i < end; ++i) {
      texts.push_back(queries[i].text);
      chunk.push_back(&queries[i]);
    }
    std::vector<QueryRun> out(chunk.size());
    rank(texts, chunk, depth, out);
    for (size_t i = begin; i < end; ++i) {
      QueryRun& r = run.queries[i];
      r = std::move(out[i - begin]);
      r.query_id = queries[i].id;
      r.category = queries[i].category;
    }
    if (options.progress) options.progress(end, queries.size());
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<RankedList> rankings;
  std::map<std::string, std::string> categories;
  for (const QueryRun& r : run.queries) {
    rankings.push_back({r.query_id, r.item_ids});
    categories[r.query_id] = r.category;
  }
  std::vector<Qrel> judged;
  for (const Qrel& q : qrels) {
    if (ids.count(q.query_id)) judged.push_back(q);
  }
  run.report = evaluate(rankings, judged, categories, options.metrics);
  return run;
}

// FNV-1a: a per-query seed that does not depend on the standard library's std::hash.
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

size_t count_words(const std::string& text) {
  std::istringstream in(text);
  size_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

std::vector<std::string> catalogue_vocabulary(const ItemStore& items) {
  std::set<std::string> words;
  for (const Item& item : items.items()) {
    for (std::string& t : bm25_tokenize(item.title)) words.insert(std::move(t));
  }
  return {words.begin(), words.end()};
}

std::string random_words(const std::vector<std::string>& vocabulary, size_t count, uint64_t seed) {
  if (count > 0 && vocabulary.empty())
    throw InvalidArgument("the random CoT source needs words, but the catalogue's titles have none");
  std::mt19937_64 rng(seed);
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i) out += ' ';
    out += vocabulary[rng() % vocabulary.size()];  // modulo, not a distribution: same draws on every platform
  }
  return out;
}

std::string describe(const Embedder& embedder, CotSource source) {
  const EmbedderOptions& o = embedder.options();
  const int max_cot = o.max_cot_tokens > 0 ? o.max_cot_tokens : embedder.model().prompt_config().max_cot_tokens;
  return std::string("embedding cot=") + to_string(source) + " pooling=" + to_string(o.pooling) +
         " max_cot=" + std::to_string(max_cot);
}

}  // namespace

EvaluationRun evaluate_system(const Retriever& retriever, const std::vector<Query>& queries,
                              const std::vector<Qrel>& qrels, const SystemEvaluationOptions& options) {
  const Embedder& embedder = retriever.embedder();
  const CotSource source = options.cot_source;
  const std::vector<std::string> vocabulary =
      source == CotSource::Random ? catalogue_vocabulary(retriever.items()) : std::vector<std::string>{};
  auto rank = [&](const std::vector<std::string>& texts, const std::vector<const Query*>& chunk, int depth,
                  std::vector<QueryRun>& out) {
    if (source == CotSource::Auto) {
      std::vector<SearchResponse> found = retriever.search_many(texts, depth, QueryMode::Auto);
      for (size_t i = 0; i < out.size(); ++i) {
        out[i].cot = std::move(found[i].cot);
        out[i].mode = to_string(found[i].mode);
        for (const SearchHit& hit : found[i].hits) {
          out[i].item_ids.push_back(hit.id);
          out[i].scores.push_back(hit.score);
        }
      }
      return;
    }
    Embeddings e;
    switch (source) {
      case CotSource::Generated: e = embedder.embed_queries(texts, QueryMode::Reason); break;
      case CotSource::Empty: e = embedder.embed_queries(texts, QueryMode::Direct); break;
      case CotSource::Query: e = embedder.embed_queries_with_cots(texts, texts); break;
      case CotSource::Auto: break;  // answered above
      case CotSource::Random: {
        std::vector<std::string> cots = embedder.embed_queries(texts, QueryMode::Reason).cots;
        for (size_t i = 0; i < cots.size(); ++i)
          cots[i] = random_words(vocabulary, count_words(cots[i]), options.seed ^ fnv1a(chunk[i]->id));
        e = embedder.embed_queries_with_cots(texts, cots);
        break;
      }
    }
    SearchResult found = retriever.index().search(e.data.data(), e.rows, depth, /*normalized=*/true);
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].cot = e.cots[i];
      out[i].mode = source == CotSource::Empty ? "direct" : "reason";
      const int64_t* ids = found.ids_of(static_cast<int64_t>(i));
      const float* scores = found.scores_of(static_cast<int64_t>(i));
      for (int j = 0; j < found.k && ids[j] >= 0; ++j) {
        out[i].item_ids.push_back(ids[j]);
        out[i].scores.push_back(scores[j]);
      }
    }
  };
  return run_system(describe(embedder, source), queries, qrels, options, rank);
}

EvaluationRun evaluate_system(const Bm25& bm25, const std::vector<Query>& queries, const std::vector<Qrel>& qrels,
                              const SystemEvaluationOptions& options) {
  auto rank = [&](const std::vector<std::string>& texts, const std::vector<const Query*>&, int depth,
                  std::vector<QueryRun>& out) {
    std::vector<Bm25Result> found = bm25.search_many(texts, depth);
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].item_ids = std::move(found[i].ids);
      out[i].scores.assign(found[i].scores.begin(), found[i].scores.end());
    }
  };
  return run_system("bm25", queries, qrels, options, rank);
}

std::string EvaluationRun::rankings_jsonl() const {
  std::string out;
  for (const QueryRun& q : queries) {
    nlohmann::ordered_json line = {{"query_id", q.query_id}, {"category", q.category}, {"cot", q.cot},
                                   {"item_ids", q.item_ids}, {"scores", q.scores}};
    if (!q.mode.empty()) line["mode"] = q.mode;
    out += line.dump() + "\n";
  }
  return out;
}

std::string EvaluationRun::to_json(bool include_per_query, int indent) const {
  nlohmann::ordered_json out = {{"system", system},
                                {"seconds", seconds},
                                {"queries_per_second", seconds > 0 ? double(queries.size()) / seconds : 0.0}};
  out.update(nlohmann::ordered_json::parse(report.to_json(include_per_query, -1)));
  return out.dump(indent);
}

}  // namespace lrem
