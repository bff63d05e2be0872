#include "lrem/teacher.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "eval/chat_client.h"
#include "eval/teacher_cache.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "model/chat_format.h"
#include "util/json_reader.h"
#include "util/sha256.h"

namespace lrem {

namespace {

constexpr const char* kPlaceholder = "{query}";
constexpr size_t kMaxKeywordWords = 4;

bool is_url(const std::string& source) { return source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0; }

std::string trim(const std::string& s, const char* chars) {
  const size_t begin = s.find_first_not_of(chars);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(chars) - begin + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Drops <think>...</think> blocks; an unclosed one (the answer ran out of tokens while
// reasoning) takes the rest of the answer with it.
std::string without_reasoning(std::string text) {
  for (size_t open; (open = text.find("<think>")) != std::string::npos;) {
    const size_t close = text.find("</think>", open);
    text.erase(open, close == std::string::npos ? std::string::npos : close + 8 - open);
  }
  return text;
}

// A list marker at the start of a piece: "-", "*", "•", "1.", "2)".
std::string without_marker(const std::string& piece) {
  size_t i = 0;
  while (i < piece.size() && std::isdigit(static_cast<unsigned char>(piece[i]))) ++i;
  if (i > 0 && i < piece.size() && (piece[i] == '.' || piece[i] == ')')) return piece.substr(i + 1);
  if (piece.rfind("\xE2\x80\xA2", 0) == 0) return piece.substr(3);  // U+2022 BULLET
  if (!piece.empty() && (piece[0] == '-' || piece[0] == '*' || piece[0] == '+')) return piece.substr(1);
  return piece;
}

size_t word_count(const std::string& s) {
  size_t n = 0;
  bool in_word = false;
  for (char c : s) {
    const bool space = std::isspace(static_cast<unsigned char>(c));
    n += !space && !in_word;
    in_word = !space;
  }
  return n;
}

std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  return trim(out, " ");
}

}  // namespace

std::string KeywordPrompt::render_user(const std::string& query) const {
  const size_t at = user.find(kPlaceholder);
  if (at == std::string::npos)
    throw InvalidArgument("the teacher's prompt template has no {query} placeholder: \"" + user + "\"");
  return user.substr(0, at) + query + user.substr(at + 7);
}

void TeacherOptions::validate() const {
  prompt.render_user("");
  auto positive = [](double v, const char* name) {
    if (!(v > 0) || !std::isfinite(v))
      throw InvalidArgument(std::string("TeacherOptions.") + name + " must be positive, got " + std::to_string(v));
  };
  positive(max_tokens, "max_tokens");
  positive(batch_size, "batch_size");
  positive(concurrency, "concurrency");
  positive(initial_backoff_seconds, "initial_backoff_seconds");
  positive(max_backoff_seconds, "max_backoff_seconds");
  positive(timeout_seconds, "timeout_seconds");
  if (!(temperature >= 0) || !std::isfinite(temperature))
    throw InvalidArgument("TeacherOptions.temperature must be >= 0, got " + std::to_string(temperature));
  if (max_retries < 0) throw InvalidArgument("TeacherOptions.max_retries must be >= 0, got " + std::to_string(max_retries));
}

std::vector<std::string> parse_keywords(const std::string& answer) {
  std::string text = without_reasoning(answer);
  // Skip everything up to a "keywords:" label (the model's preamble, if any).
  const std::string folded = lower(text);
  if (const size_t label = folded.rfind("keywords:"); label != std::string::npos) text = text.substr(label + 9);
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find_first_of(",;\n|", begin), text.size());
    std::string piece = trim(text.substr(begin, end - begin), " \t\r");
    begin = end + 1;
    piece = trim(without_marker(piece), " \t\r\"'`*_()[]{}<>");
    piece = collapse_spaces(trim(piece, " \t\r.!?:\"'`*_()[]{}<>"));
    if (piece.empty() || word_count(piece) > kMaxKeywordWords || !seen.insert(lower(piece)).second) continue;
    out.push_back(std::move(piece));
  }
  return out;
}

struct KeywordTeacher::Impl {
  TeacherOptions options;
  std::optional<Model> model;            // a model directory
  std::optional<ChatFormat> format;      // ... and how it reads a chat
  std::optional<ChatEndpoint> endpoint;  // or a URL
  std::string api_key;
  std::string identity;
  std::unique_ptr<TeacherCache> cache;
  TeacherStats stats;
  size_t done = 0, total = 0;  // of the current answers() call, for the progress display

  std::vector<ChatMessage> chat(const std::string& query) const {
    return {{"system", options.prompt.system}, {"user", options.prompt.render_user(query)}};
  }
  void generate(const std::vector<std::string>& queries);
  void request(const std::vector<std::string>& queries);
  void record(const std::string& query, const std::string& answer) {
    cache->append(query, answer, parse_keywords(answer));
    ++stats.asked;
    ++done;
    if (options.progress) options.progress(done, total);
  }
};

KeywordTeacher::KeywordTeacher(const std::string& source, TeacherOptions options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  Impl& t = *impl_;
  t.options = std::move(options);
  std::string what;  // the source as the identity sees it
  if (is_url(source)) {
    t.endpoint = parse_chat_url(source);
    what = t.endpoint->url();
    if (const char* key = std::getenv(t.options.api_key_env.c_str())) t.api_key = key;
  } else {
    t.model = Model::load(source);
    t.format = ChatFormat::for_tokenizer(t.model->tokenizer());
    what = "model " + t.model->fingerprint();
  }
  const Json identity = {{"source", what},
                         {"model", t.options.model},
                         {"system", t.options.prompt.system},
                         {"user", t.options.prompt.user},
                         {"max_tokens", t.options.max_tokens},
                         {"temperature", t.options.temperature}};
  t.identity = sha256_hex(identity.dump()).substr(0, 16);
  t.cache = std::make_unique<TeacherCache>(t.options.cache_path, t.identity);
}

KeywordTeacher::~KeywordTeacher() = default;
KeywordTeacher::KeywordTeacher(KeywordTeacher&&) noexcept = default;
KeywordTeacher& KeywordTeacher::operator=(KeywordTeacher&&) noexcept = default;

const std::string& KeywordTeacher::identity() const { return impl_->identity; }
const TeacherStats& KeywordTeacher::stats() const { return impl_->stats; }

void KeywordTeacher::Impl::generate(const std::vector<std::string>& queries) {
  GenerationOptions g;
  g.max_new_tokens = options.max_tokens;
  g.temperature = options.temperature;
  g.stop_ids = format->stop_ids();
  for (size_t begin = 0; begin < queries.size(); begin += options.batch_size) {
    const size_t end = std::min(queries.size(), begin + options.batch_size);
    std::vector<std::string> prompts;
    for (size_t i = begin; i < end; ++i) prompts.push_back(format->render(chat(queries[i])));
    const std::vector<Generation> out = model->generate(prompts, g);
    for (size_t i = begin; i < end; ++i) record(queries[i], out[i - begin].text);
  }
}

void KeywordTeacher::Impl::request(const std::vector<std::string>& queries) {
  std::atomic<size_t> next{0};
  std::mutex mu;  // guards the cache, the stats, the progress callback and `failure`
  std::exception_ptr failure;
  auto work = [&] {
    size_t retries = 0;
    try {
      ChatClient client(*endpoint, options, api_key);
      for (size_t i; (i = next++) < queries.size();) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (failure) break;
        }
        const std::string answer = client.complete(chat(queries[i]), retries);
        std::lock_guard<std::mutex> lock(mu);
        record(queries[i], answer);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure) failure = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    stats.retries += retries;
  };
  std::vector<std::thread> workers;
  const size_t n = std::min(queries.size(), static_cast<size_t>(options.concurrency));
  for (size_t i = 0; i < n; ++i) workers.emplace_back(work);
  for (std::thread& w : workers) w.join();
  if (failure) std::rethrow_exception(failure);
}

std::vector<std::string> KeywordTeacher::answers(const std::vector<std::string>& queries) {
  Impl& t = *impl_;
  std::vector<std::string> missing;
  std::unordered_set<std::string> distinct;
  for (const std::string& q : queries) {
    if (!distinct.insert(q).second) continue;
    if (!t.cache->find(q)) missing.push_back(q);
  }
  t.total = distinct.size();
  t.done = t.total - missing.size();
  t.stats.queries += t.total;
  t.stats.cached += t.done;
  if (t.options.progress && t.total > 0) t.options.progress(t.done, t.total);
  if (!missing.empty()) t.model ? t.generate(missing) : t.request(missing);
  std::vector<std::string> out;
  out.reserve(queries.size());
  for (const std::string& q : queries) out.push_back(*t.cache->find(q));
  return out;
}

std::vector<std::vector<std::string>> KeywordTeacher::keywords(const std::vector<std::string>& queries) {
  std::vector<std::vector<std::string>> out;
  for (const std::string& answer : answers(queries)) out.push_back(parse_keywords(answer));
  return out;
}

Teacher KeywordTeacher::teacher(const std::vector<Query>& queries) {
  std::vector<std::string> texts;
  for (const Query& q : queries) texts.push_back(q.text);
  std::vector<std::vector<std::string>> found = keywords(texts);
  auto by_text = std::make_shared<std::unordered_map<std::string, std::vector<std::string>>>();
  for (size_t i = 0; i < texts.size(); ++i) by_text->emplace(texts[i], std::move(found[i]));
  return [by_text](const Query& query) {
    auto it = by_text->find(query.text);
    return it == by_text->end() ? std::vector<std::string>{} : it->second;
  };
}

}  // namespace lrem
