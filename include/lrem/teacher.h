// A teacher LLM that writes the keywords ("CoT") of each query, as the LREM paper's
// Qwen3-30B-A3B does, for curating stage-1 triplets (lrem/curation.h, `lrem curate --teacher`).
//
// The source is either
//   - a model directory: lrem loads it (any backbone lrem loads) and generates the answers
//     itself, greedy by default, in batches; or
//   - an OpenAI-compatible chat-completions URL, "http(s)://host:port/v1" or the full
//     ".../v1/chat/completions" (vLLM, llama.cpp's server, TGI, `lrem serve`): a few
//     requests in flight, retries with exponential backoff on 429, 5xx and connection
//     errors (a Retry-After header is honoured), a timeout per request, and an API key
//     read from an environment variable (never from the command line).
// Either way the model is sent a chat: the system message and the user message
// (KeywordPrompt), and the keywords are parsed out of its answer (parse_keywords).
//
// Answers are kept in a JSON Lines cache, one line appended (and synced) per answer, keyed
// by the query text and the teacher's identity (source, model name, prompt, sampling), so
// a rerun after a crash or a kill asks only what was not answered yet, and a changed
// prompt or model asks again.
//
//   lrem::TeacherOptions options;
//   options.cache_path = "teacher-cache.jsonl";
//   lrem::KeywordTeacher teacher("http://127.0.0.1:8000/v1", options);
//   auto result = lrem::curate_triplets(queries, qrels, items, teacher.teacher(queries),
//                                       lrem::Bm25Baseline(bm25));
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lrem/curation.h"
#include "lrem/dataset.h"

namespace lrem {

// The chat the teacher is sent for each query. `user` holds one {query} placeholder.
struct KeywordPrompt {
  std::string system =
      "You help an online store's search engine. You read what a shopper typed and name the product they want.";
  std::string user =
      "A shopper searched for: {query}\n"
      "Write 3 to 6 short keywords that describe the product they want (its kind, use and features), "
      "comma-separated on one line. Do not repeat the query's words. Answer with the keywords only.";

  std::string render_user(const std::string& query) const;  // InvalidArgument without {query}
};

struct TeacherOptions {
  KeywordPrompt prompt;
  int max_tokens = 48;         // of each answer
  float temperature = 0.0f;    // 0: greedy, the same answer on every run
  std::string cache_path;      // JSON Lines cache; empty: none
  // (answered, total) of each answers() call, cache hits included; called under a lock,
  // from the request threads for a URL.
  std::function<void(size_t, size_t)> progress;

  // A model directory (local generation):
  int batch_size = 8;  // queries generated together

  // A URL:
  std::string model;                            // the request's "model" (vLLM needs the served name); empty: left out
  std::string api_key_env = "LREM_TEACHER_API_KEY";  // sent as "Authorization: Bearer" when this variable is set
  int concurrency = 4;                          // requests in flight
  int max_retries = 6;                          // after the first attempt, for 429, 5xx and connection errors
  double initial_backoff_seconds = 0.5;         // doubled after each retry
  double max_backoff_seconds = 30.0;            // also the most a Retry-After is honoured for
  double timeout_seconds = 120.0;               // to connect, and for each read and write

  void validate() const;  // InvalidArgument for a value out of range
};

// The keywords in a model's answer, robust to how chat models write them: reasoning in
// <think>...</think> is dropped, a "Keywords:" label is skipped, and the answer is split at
// commas, semicolons, newlines and '|'. List markers ("-", "*", "1."), quotes, brackets and
// trailing periods are stripped; a piece longer than four words (a sentence, not a keyword)
// and repeats are dropped.
std::vector<std::string> parse_keywords(const std::string& answer);

struct TeacherStats {
  size_t queries = 0;   // distinct query texts asked for
  size_t cached = 0;    // answered from the cache
  size_t asked = 0;     // answered by the model in this run
  size_t retries = 0;   // HTTP attempts repeated (429, 5xx, connection errors)
};

class KeywordTeacher {
 public:
  // `source`: a URL starting with http:// or https://, else a model directory (loaded
  // here). InvalidArgument for bad options or URL; IoError if the cache cannot be opened.
  explicit KeywordTeacher(const std::string& source, TeacherOptions options = {});
  ~KeywordTeacher();
  KeywordTeacher(KeywordTeacher&&) noexcept;
  KeywordTeacher& operator=(KeywordTeacher&&) noexcept;

  // The model's answer for each text, in order (repeated texts are asked once); answers in
  // the cache are not asked again. IoError when the server keeps failing or refuses (4xx);
  // answers received before are in the cache.
  std::vector<std::string> answers(const std::vector<std::string>& queries);
  // parse_keywords of each answer.
  std::vector<std::vector<std::string>> keywords(const std::vector<std::string>& queries);
  // Asks for every query's keywords now and returns a Teacher for curate_triplets that
  // looks them up (by query text).
  Teacher teacher(const std::vector<Query>& queries);

  // The hash of what makes an answer (source, model name, prompt, sampling): the cache key.
  const std::string& identity() const;
  const TeacherStats& stats() const;  // of the calls so far

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lrem
