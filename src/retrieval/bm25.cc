#include "lrem/bm25.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "lrem/error.h"

namespace lrem {

namespace {

struct Posting {
  uint32_t doc;  // index into Data::ids
  uint32_t tf;
};

bool is_token_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80; }

}  // namespace

struct Bm25::Data {
  Bm25Options options;
  std::unordered_set<std::string> stop_words;
  std::vector<int64_t> ids;
  std::vector<uint32_t> lengths;
  double average_length = 0;
  std::unordered_map<std::string, std::vector<Posting>> postings;

  std::vector<std::string> analyze(std::string_view text) const {
    auto tokens = bm25_tokenize(text);
    if (!stop_words.empty()) {
      tokens.erase(std::remove_if(tokens.begin(), tokens.end(), [&](const std::string& t) { return stop_words.count(t); }),
                   tokens.end());
    }
    return tokens;
  }
};

const std::vector<std::string>& english_stop_words() {
  static const std::vector<std::string> words = {
      "a",    "an",   "and",  "are",  "as",   "at",   "be",   "but",   "by",    "for",  "from", "has",
      "have", "he",   "her",  "his",  "i",    "in",   "is",   "it",    "its",   "me",   "my",   "of",
      "on",   "or",   "our",  "she",  "so",   "that", "the",  "their", "them",  "they", "this", "to",
      "was",  "we",   "were", "what", "when", "which", "who", "will",  "with",  "you",  "your"};
  return words;
}

std::vector<std::string> bm25_tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (unsigned char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (is_token_byte(c)) {
      current += char(c);
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

Bm25::Bm25(const std::vector<int64_t>& ids, const std::vector<std::string>& texts, Bm25Options options) {
  if (ids.size() != texts.size()) {
    throw InvalidArgument("Bm25: " + std::to_string(ids.size()) + " ids but " + std::to_string(texts.size()) + " texts");
  }
  if (ids.size() > UINT32_MAX) throw LimitExceeded("Bm25: more than 2^32 documents");
  if (!(options.k1 >= 0) || !std::isfinite(options.k1)) throw InvalidArgument("Bm25: k1 must be finite and >= 0");
  if (!(options.b >= 0 && options.b <= 1)) throw InvalidArgument("Bm25: b must be in [0, 1]");
  auto data = std::make_unique<Data>();
  data->options = std::move(options);
  data->stop_words.insert(data->options.stop_words.begin(), data->options.stop_words.end());
  data->ids = ids;
  data->lengths.reserve(ids.size());
  std::unordered_set<int64_t> seen;
  uint64_t total_length = 0;
  for (size_t d = 0; d < ids.size(); ++d) {
    if (ids[d] < 0) throw InvalidArgument("Bm25: id " + std::to_string(ids[d]) + " is negative");
    if (!seen.insert(ids[d]).second) throw InvalidArgument("Bm25: duplicate id " + std::to_string(ids[d]));
    const auto tokens = data->analyze(texts[d]);
    std::unordered_map<std::string, uint32_t> counts;
    for (const auto& t : tokens) ++counts[t];
    for (auto& [term, tf] : counts) data->postings[term].push_back({uint32_t(d), tf});
    data->lengths.push_back(uint32_t(tokens.size()));
    total_length += tokens.size();
  }
  data->average_length = ids.empty() ? 0 : double(total_length) / double(ids.size());
  data_ = std::move(data);
}

Bm25 Bm25::from_items(const std::vector<Item>& items, Bm25Options options) {
  std::vector<int64_t> ids;
  std::vector<std::string> titles;
  ids.reserve(items.size());
  titles.reserve(items.size());
  for (const Item& item : items) {
    ids.push_back(item.id);
    titles.push_back(item.title);
  }
  return Bm25(ids, titles, std::move(options));
}

Bm25::~Bm25() = default;
Bm25::Bm25(Bm25&&) noexcept = default;
Bm25& Bm25::operator=(Bm25&&) noexcept = default;

size_t Bm25::size() const { return data_->ids.size(); }
size_t Bm25::vocabulary_size() const { return data_->postings.size(); }
const Bm25Options& Bm25::options() const { return data_->options; }
std::vector<std::string> Bm25::analyze(std::string_view text) const { return data_->analyze(text); }

Bm25Result Bm25::search(std::string_view query, int k) const {
  if (k <= 0) throw InvalidArgument("Bm25::search: k must be positive, got " + std::to_string(k));
  const Data& d = *data_;
  auto terms = d.analyze(query);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());

  const double n = double(d.ids.size());
  const double k1 = d.options.k1, b = d.options.b;
  std::unordered_map<uint32_t, double> scores;
  for (const auto& term : terms) {
    auto it = d.postings.find(term);
    if (it == d.postings.end()) continue;
    const double df = double(it->second.size());
    const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
    for (const Posting& p : it->second) {
      const double tf = p.tf;
      const double norm = k1 * (1 - b + b * d.lengths[p.doc] / d.average_length);
      scores[p.doc] += idf * tf * (k1 + 1) / (tf + norm);
    }
  }
  std::vector<std::pair<double, int64_t>> ranked;  // (score, id)
  ranked.reserve(scores.size());
  for (const auto& [doc, score] : scores) ranked.emplace_back(score, d.ids[doc]);
  const size_t top = std::min(ranked.size(), size_t(k));
  std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(),
                    [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
  Bm25Result result;
  for (size_t i = 0; i < top; ++i) {
    result.ids.push_back(ranked[i].second);
    result.scores.push_back(ranked[i].first);
  }
  return result;
}

std::vector<Bm25Result> Bm25::search_many(const std::vector<std::string>& queries, int k, int num_threads) const {
  if (k <= 0) throw InvalidArgument("Bm25::search_many: k must be positive, got " + std::to_string(k));
  if (num_threads <= 0) num_threads = int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<Bm25Result> results(queries.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < queries.size();) results[i] = search(queries[i], k);
  };
  const size_t workers = std::min(size_t(num_threads), queries.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < workers; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace lrem
