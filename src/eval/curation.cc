#include "lrem/curation.h"

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "util/file_io.h"
#include "lrem/error.h"

namespace lrem {

namespace {

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(std::move(w));
  return words;
}

}  // namespace

Teacher read_teacher_cots(const std::string& path) {
  // Shared so copies of the teacher stay cheap.
  auto by_id = std::make_shared<std::unordered_map<std::string, std::string>>();
  auto by_text = std::make_shared<std::unordered_map<std::string, std::string>>();
  std::istringstream in(read_file(path));
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const auto row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object()) throw FormatError(where + "not a JSON object");
    auto cot = row.find("cot");
    if (cot == row.end() || !cot->is_string()) throw FormatError(where + "missing string field 'cot'");
    std::string key;
    std::unordered_map<std::string, std::string>* table = nullptr;
    if (auto id = row.find("query_id"); id != row.end()) {
      if (id->is_string()) key = id->get<std::string>();
      else if (id->is_number_integer()) key = id->dump();
      else throw FormatError(where + "field 'query_id' must be a string or an integer");
      table = by_id.get();
    } else if (auto text = row.find("query"); text != row.end() && text->is_string()) {
      key = text->get<std::string>();
      table = by_text.get();
    } else {
      throw FormatError(where + "needs 'query_id' or 'query' (a string) to say which query the CoT is for");
    }
    auto [it, inserted] = table->emplace(key, cot->get<std::string>());
    if (!inserted && it->second != cot->get<std::string>())
      throw FormatError(where + "query '" + key + "' already has a different CoT (\"" + it->second + "\")");
  }
  return [by_id, by_text](const Query& query) {
    if (auto it = by_id->find(query.id); it != by_id->end()) return split_words(it->second);
    if (auto it = by_text->find(query.text); it != by_text->end()) return split_words(it->second);
    return std::vector<std::string>{};
  };
}

std::vector<std::vector<int64_t>> Bm25Baseline::search_many(const std::vector<std::string>& texts, int k) const {
  std::vector<std::vector<int64_t>> out;
  for (Bm25Result& r : bm25_->search_many(texts, k)) out.push_back(std::move(r.ids));
  return out;
}

std::vector<std::vector<int64_t>> DirectEmbeddingBaseline::search_many(const std::vector<std::string>& texts,
                                                                       int k) const {
  std::vector<std::vector<int64_t>> out;
  for (const SearchResponse& r : retriever_->search_many(texts, k, QueryMode::Direct)) {
    std::vector<int64_t>& ids = out.emplace_back();
    for (const SearchHit& h : r.hits) ids.push_back(h.id);
  }
  return out;
}

std::string clean_cot(const std::string& query, const std::vector<std::string>& keywords,
                      const std::vector<std::string>& stop_words, const Model* backbone) {
  std::unordered_set<std::string> stop;
  for (const std::string& w : stop_words) {
    for (std::string& t : bm25_tokenize(w)) stop.insert(std::move(t));
  }
  std::unordered_set<std::string> in_query;
  for (std::string& t : bm25_tokenize(query)) in_query.insert(std::move(t));
  std::unordered_set<std::string> used;
  std::string out;
  for (const std::string& keyword : keywords) {
    for (const std::string& word : split_words(keyword)) {
      std::vector<std::string> fresh;
      for (std::string& t : bm25_tokenize(word)) {
        if (!stop.count(t) && !in_query.count(t) && !used.count(t)) fresh.push_back(std::move(t));
      }
      if (fresh.empty()) continue;
      std::string longer = out.empty() ? word : out + ' ' + word;
      if (backbone && backbone->tokenizer().encode(longer).size() > size_t(backbone->prompt_config().max_cot_tokens))
        return out;
      used.insert(fresh.begin(), fresh.end());
      out = std::move(longer);
    }
  }
  return out;
}

CurationResult curate_triplets(const std::vector<Query>& queries, const std::vector<Qrel>& qrels,
                               const ItemStore& items, const Teacher& teacher, const BaselineRetriever& baseline,
                               const CurationOptions& options) {
  if (options.k < 1) throw InvalidArgument("curation: k must be positive, got " + std::to_string(options.k));
  if (options.relevance_threshold < 1) throw InvalidArgument("curation: relevance_threshold must be >= 1");
  if (options.chunk_size == 0) throw InvalidArgument("curation: chunk_size must be positive");
  if (!teacher) throw InvalidArgument("curation: no teacher given");
  std::unordered_set<std::string> ids;
  for (const Query& q : queries) {
    if (!ids.insert(q.id).second) throw InvalidArgument("curation: query id \"" + q.id + "\" appears twice");
  }
  std::unordered_map<std::string, std::unordered_set<int64_t>> relevant;
  for (const Qrel& q : qrels) {
    if (q.relevance >= options.relevance_threshold && ids.count(q.query_id)) relevant[q.query_id].insert(q.item_id);
  }

  CurationResult result;
  result.stats.queries = queries.size();
  // The teacher runs first, on this thread, for every query (it may be a Python callable);
  // only queries with a CoT left after the rules go to the baseline.
  std::vector<const Query*> candidates;
  std::vector<std::string> cots;
  for (const Query& q : queries) {
    std::string cot = clean_cot(q.text, teacher(q), options.stop_words, options.backbone);
    if (cot.empty()) continue;
    candidates.push_back(&q);
    cots.push_back(std::move(cot));
  }
  result.stats.with_cot = candidates.size();

  for (size_t begin = 0; begin < candidates.size(); begin += options.chunk_size) {
    const size_t end = std::min(candidates.size(), begin + options.chunk_size);
    std::vector<std::string> texts;  // the queries alone, then each with its CoT
    for (size_t i = begin; i < end; ++i) texts.push_back(candidates[i]->text);
    for (size_t i = begin; i < end; ++i) texts.push_back(candidates[i]->text + " " + cots[i]);
    const std::vector<std::vector<int64_t>> found = baseline.search_many(texts, options.k);
    const size_t n = end - begin;
    if (found.size() != 2 * n)
      throw InvalidArgument("curation: the baseline returned " + std::to_string(found.size()) + " result lists for " +
                            std::to_string(2 * n) + " texts");
    for (size_t j = 0; j < n; ++j) {
      const Query& q = *candidates[begin + j];
      auto rel = relevant.find(q.id);
      if (rel == relevant.end()) continue;
      const std::unordered_set<int64_t> before(found[j].begin(), found[j].end());
      bool kept = false;
      for (int64_t id : found[n + j]) {
        if (before.count(id) || !rel->second.count(id)) continue;
        const std::optional<Item> item = items.find(id);
        if (!item)
          throw FormatError("curation: the baseline returned item id " + std::to_string(id) +
                            " which is not in the item store; the baseline and the items do not match");
        result.triplets.push_back({q.id, q.text, q.category, cots[begin + j], id, item->title});
        kept = true;
      }
      result.stats.kept += kept;
    }
    if (options.progress) options.progress(end, candidates.size());
  }
  result.stats.triplets = result.triplets.size();
  return result;
}

std::string CurationResult::to_jsonl() const {
  std::string out;
  for (const CuratedTriplet& t : triplets) {
    nlohmann::ordered_json line = {{"query_id", t.query_id}, {"query", t.query}, {"cot", t.cot},
                                   {"item_id", t.item_id},   {"item", t.item},   {"category", t.category}};
    out += line.dump() + "\n";
  }
  return out;
}

void CurationResult::save(const std::string& path) const { write_file_atomic(path, to_jsonl()); }

}  // namespace lrem
