#include "lrem/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "lrem/error.h"

namespace lrem {

namespace {

using Judgements = std::unordered_map<int64_t, int>;  // item id -> relevance

std::string hit_rate_name(int k) { return "HitRate@" + std::to_string(k); }
// Recall@K equals HitRate@K by the paper's definition; the alias is there to be found.
std::string recall_name(int k) { return "Recall@" + std::to_string(k); }
std::string precision_name(int k) { return "Precision@" + std::to_string(k); }
std::string ndcg_name(int k) { return "NDCG@" + std::to_string(k); }

double gain(int relevance) { return relevance > 0 ? std::exp2(double(relevance)) - 1 : 0; }
double discount(size_t rank) { return 1 / std::log2(double(rank) + 1); }  // rank is 1-based

// Negative ids dropped, repeats after the first dropped.
std::vector<int64_t> clean(const std::vector<int64_t>& ranking) {
  std::vector<int64_t> out;
  std::unordered_set<int64_t> seen;
  for (int64_t id : ranking) {
    if (id >= 0 && seen.insert(id).second) out.push_back(id);
  }
  return out;
}

std::map<std::string, double> score_query(const std::vector<int64_t>& ranking, const Judgements& judged,
                                          size_t num_relevant, const EvaluationOptions& options) {
  auto relevance = [&](int64_t id) {
    auto it = judged.find(id);
    return it == judged.end() ? 0 : it->second;
  };
  std::map<std::string, double> m;
  // hits[i]: relevant items among the first i.
  std::vector<size_t> hits(ranking.size() + 1, 0);
  double reciprocal_rank = 0;
  for (size_t i = 0; i < ranking.size(); ++i) {
    const bool relevant = relevance(ranking[i]) >= options.relevance_threshold;
    hits[i + 1] = hits[i] + relevant;
    if (relevant && reciprocal_rank == 0) reciprocal_rank = 1.0 / double(i + 1);
  }
  for (int k : options.ks) {
    const size_t found = hits[std::min(size_t(k), ranking.size())];
    m[hit_rate_name(k)] = double(found) / double(num_relevant);
    m[recall_name(k)] = m[hit_rate_name(k)];
    m[precision_name(k)] = double(found) / double(k);
  }
  m["MRR"] = reciprocal_rank;

  const size_t n = size_t(options.ndcg_k);
  double dcg = 0;
  for (size_t i = 0; i < std::min(n, ranking.size()); ++i) dcg += gain(relevance(ranking[i])) * discount(i + 1);
  std::vector<int> ideal;
  for (const auto& [id, rel] : judged) ideal.push_back(rel);
  std::sort(ideal.rbegin(), ideal.rend());
  double idcg = 0;
  for (size_t i = 0; i < std::min(n, ideal.size()); ++i) idcg += gain(ideal[i]) * discount(i + 1);
  m[ndcg_name(options.ndcg_k)] = idcg > 0 ? dcg / idcg : 0;
  return m;
}

void validate(const EvaluationOptions& options) {
  if (options.ks.empty()) throw InvalidArgument("evaluate: ks must not be empty");
  for (int k : options.ks) {
    if (k <= 0) throw InvalidArgument("evaluate: every K must be positive, got " + std::to_string(k));
  }
  if (std::set<int>(options.ks.begin(), options.ks.end()).size() != options.ks.size()) {
    throw InvalidArgument("evaluate: ks contains a repeated value");
  }
  if (options.ndcg_k <= 0) throw InvalidArgument("evaluate: ndcg_k must be positive");
  if (options.relevance_threshold < 1) throw InvalidArgument("evaluate: relevance_threshold must be >= 1");
}

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

MetricsReport evaluate(const std::vector<RankedList>& rankings, const std::vector<Qrel>& qrels,
                       const std::map<std::string, std::string>& query_category, const EvaluationOptions& options) {
  validate(options);
  MetricsReport report;
  for (int k : options.ks) report.metric_names.push_back(hit_rate_name(k));
  for (int k : options.ks) report.metric_names.push_back(precision_name(k));
  report.metric_names.emplace_back("MRR");
  report.metric_names.push_back(ndcg_name(options.ndcg_k));

  std::map<std::string, Judgements> judgements;
  for (const Qrel& q : qrels) {
    if (!judgements[q.query_id].emplace(q.item_id, q.relevance).second) {
      throw InvalidArgument("evaluate: query \"" + q.query_id + "\" judges item " + std::to_string(q.item_id) + " twice");
    }
  }
  std::map<std::string, const RankedList*> ranked;
  for (const RankedList& r : rankings) {
    if (!ranked.emplace(r.query_id, &r).second) {
      throw InvalidArgument("evaluate: query \"" + r.query_id + "\" has two rankings");
    }
  }

  std::set<std::string> query_ids;
  for (const auto& [id, _] : judgements) query_ids.insert(id);
  for (const auto& [id, _] : ranked) query_ids.insert(id);

  std::map<std::string, std::map<std::string, double>> sums;
  report.groups[MetricsReport::kOverall];
  for (const std::string& id : query_ids) {
    auto judged_it = judgements.find(id);
    size_t num_relevant = 0;
    if (judged_it != judgements.end()) {
      for (const auto& [item, rel] : judged_it->second) num_relevant += rel >= options.relevance_threshold;
    }
    if (num_relevant == 0) {
      report.queries_without_relevant.push_back(id);
      continue;
    }
    auto ranked_it = ranked.find(id);
    if (ranked_it == ranked.end()) report.queries_without_ranking.push_back(id);
    const std::vector<int64_t> ranking = ranked_it == ranked.end() ? std::vector<int64_t>{}
                                                                   : clean(ranked_it->second->item_ids);
    QueryMetrics q{id, "", score_query(ranking, judged_it->second, num_relevant, options)};
    if (auto c = query_category.find(id); c != query_category.end()) q.category = c->second;

    std::vector<std::string> groups = {MetricsReport::kOverall};
    if (!q.category.empty()) groups.push_back(q.category);
    for (const std::string& g : groups) {
      ++report.groups[g].num_queries;
      for (const auto& [name, value] : q.metrics) sums[g][name] += value;
    }
    report.per_query.push_back(std::move(q));
  }
  for (auto& [name, group] : report.groups) {
    for (const auto& [metric, sum] : sums[name]) group.metrics[metric] = sum / double(group.num_queries);
  }
  return report;
}

std::string MetricsReport::to_json(bool include_per_query, int indent) const {
  nlohmann::ordered_json out;
  out["metric_names"] = metric_names;
  auto group_json = [&](int64_t count, const std::map<std::string, double>& metrics) {
    nlohmann::ordered_json g;
    if (count >= 0) g["num_queries"] = count;
    for (const std::string& name : metric_names) {
      if (auto it = metrics.find(name); it != metrics.end()) g[name] = it->second;
    }
    for (const std::string& name : metric_names) {
      if (name.rfind("HitRate@", 0) != 0) continue;
      const std::string alias = "Recall@" + name.substr(8);
      if (auto it = metrics.find(alias); it != metrics.end()) g[alias] = it->second;
    }
    return g;
  };
  out["groups"] = nlohmann::ordered_json::object();
  out["groups"][kOverall] = group_json(groups.at(kOverall).num_queries, groups.at(kOverall).metrics);
  for (const auto& [name, group] : groups) {
    if (name != kOverall) out["groups"][name] = group_json(group.num_queries, group.metrics);
  }
  out["queries_without_relevant"] = queries_without_relevant;
  out["queries_without_ranking"] = queries_without_ranking;
  if (include_per_query) {
    out["per_query"] = nlohmann::ordered_json::array();
    for (const QueryMetrics& q : per_query) {
      auto entry = nlohmann::ordered_json{{"query_id", q.query_id}, {"category", q.category}};
      entry.update(group_json(-1, q.metrics));
      out["per_query"].push_back(std::move(entry));
    }
  }
  return out.dump(indent);
}

std::string MetricsReport::format_table() const {
  std::vector<std::string> header = {"group", "queries"};
  header.insert(header.end(), metric_names.begin(), metric_names.end());
  std::vector<std::vector<std::string>> rows = {header};
  auto add_row = [&](const std::string& name, const GroupMetrics& g) {
    std::vector<std::string> row = {name, std::to_string(g.num_queries)};
    for (const std::string& m : metric_names) {
      auto it = g.metrics.find(m);
      row.push_back(it == g.metrics.end() ? "-" : format_value(it->second));
    }
    rows.push_back(std::move(row));
  };
  add_row(kOverall, groups.at(kOverall));
  for (const auto& [name, group] : groups) {
    if (name != kOverall) add_row(name, group);
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      out += c == 0 ? row[c] + pad : "  " + pad + row[c];  // first column left-aligned, numbers right
    }
    out += '\n';
  }
  if (!queries_without_relevant.empty()) {
    out += std::to_string(queries_without_relevant.size()) + " ranked queries have no relevant judgement (excluded)\n";
  }
  if (!queries_without_ranking.empty()) {
    out += std::to_string(queries_without_ranking.size()) + " judged queries have no ranking (scored as empty)\n";
  }
  return out;
}

}  // namespace lrem
