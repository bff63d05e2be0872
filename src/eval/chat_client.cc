#include "eval/chat_client.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "lrem/error.h"
#include "util/json_reader.h"

namespace lrem {

ChatEndpoint parse_chat_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw InvalidArgument("teacher URL '" + url + "' must start with http:// or https://");
  if (url.find_first_of("?#") != std::string::npos)
    throw InvalidArgument("teacher URL '" + url + "' has a query or fragment; give the API base, e.g. http://host:8000/v1");
  const size_t path_start = url.find('/', scheme_end + 3);
  ChatEndpoint e;
  e.origin = url.substr(0, path_start);
  if (e.origin.size() == scheme_end + 3) throw InvalidArgument("teacher URL '" + url + "' names no host");
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string suffix = "/chat/completions";
  const bool full = path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  e.path = full ? path : path + suffix;
  return e;
}

double retry_delay_seconds(int retry, const std::optional<std::string>& retry_after, const TeacherOptions& options) {
  if (retry_after) {
    try {
      size_t used = 0;
      const double seconds = std::stod(*retry_after, &used);
      if (used == retry_after->size() && std::isfinite(seconds) && seconds >= 0)
        return std::min(seconds, options.max_backoff_seconds);
    } catch (const std::exception&) {
      // an HTTP-date: fall through to the backoff
    }
  }
  return std::min(options.initial_backoff_seconds * std::ldexp(1.0, std::min(retry, 60)), options.max_backoff_seconds);
}

namespace {

std::string request_body(const std::vector<ChatMessage>& messages, const TeacherOptions& options) {
  Json body = Json::object();
  if (!options.model.empty()) body["model"] = options.model;
  Json list = Json::array();
  for (const ChatMessage& m : messages) list.push_back(Json{{"role", m.role}, {"content", m.content}});
  body["messages"] = std::move(list);
  body["max_tokens"] = options.max_tokens;
  body["temperature"] = options.temperature;
  body["stream"] = false;
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string reply_content(const std::string& body, const std::string& url) {
  const JsonDocument doc(body, "the answer of " + url);
  const JsonValue choices = doc.object().at("choices");
  if (!choices.is_array() || choices.size() == 0) choices.expected("a non-empty array");
  const JsonValue content = choices[0].at("message").at("content");
  return content.is_null() ? std::string() : content.as_string();
}

std::string shortened(const std::string& text) { return text.size() > 300 ? text.substr(0, 300) + "..." : text; }

}  // namespace

ChatClient::ChatClient(const ChatEndpoint& endpoint, const TeacherOptions& options, std::string api_key)
    : endpoint_(endpoint), options_(options), api_key_(std::move(api_key)),
      http_(std::make_unique<httplib::Client>(endpoint.origin)) {
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::duration<double>(options.timeout_seconds));
  const time_t sec = timeout.count() / 1000000;
  const time_t usec = timeout.count() % 1000000;
  http_->set_connection_timeout(sec, usec);
  http_->set_read_timeout(sec, usec);
  http_->set_write_timeout(sec, usec);
  http_->set_keep_alive(true);
  if (!api_key_.empty()) http_->set_bearer_token_auth(api_key_.c_str());
}

ChatClient::~ChatClient() = default;

std::string ChatClient::complete(const std::vector<ChatMessage>& messages, size_t& retries) {
  const std::string body = request_body(messages, options_);
  std::string last_failure;
  for (int attempt = 0;; ++attempt) {
    std::optional<std::string> retry_after;
    if (httplib::Result res = http_->Post(endpoint_.path.c_str(), body, "application/json")) {
      if (res->status == 200) return reply_content(res->body, endpoint_.url());
      if (res->status != 429 && res->status < 500)
        throw IoError("the teacher at " + endpoint_.url() + " answered HTTP " + std::to_string(res->status) + ": " +
                      shortened(res->body) + (res->status == 401 || res->status == 403
                                                  ? " (set the API key in $" + options_.api_key_env + ")"
                                                  : ""));
      last_failure = "HTTP " + std::to_string(res->status) + ": " + shortened(res->body);
      if (res->has_header("Retry-After")) retry_after = res->get_header_value("Retry-After");
    } else {
      last_failure = "no HTTP answer (" + httplib::to_string(res.error()) + " error or timeout)";
    }
    if (attempt >= options_.max_retries)
      throw IoError("the teacher at " + endpoint_.url() + " failed " + std::to_string(attempt + 1) +
                    " times; the last: " + last_failure + " (answers so far are in the cache; rerun to resume)");
    ++retries;
    std::this_thread::sleep_for(std::chrono::duration<double>(retry_delay_seconds(attempt, retry_after, options_)));
  }
}

}  // namespace lrem
