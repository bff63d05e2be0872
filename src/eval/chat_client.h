// A client of an OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp's server,
// TGI, `lrem serve`), as the keyword teacher uses it: one conversation per request, and
// the retry policy of lrem/teacher.h (429, 5xx and connection errors are retried with
// exponential backoff, honouring Retry-After; any other status fails at once).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lrem/teacher.h"
#include "model/chat_format.h"

namespace httplib {
class Client;
}

namespace lrem {

struct ChatEndpoint {
  std::string origin;  // scheme://host[:port]
  std::string path;    // ending in /chat/completions
  std::string url() const { return origin + path; }
};

// "http(s)://host[:port][/prefix]" gets "/chat/completions" appended unless it ends so
// already ("http://h:8000/v1" -> "http://h:8000/v1/chat/completions"). InvalidArgument for
// another scheme, no host, a query string or a fragment.
ChatEndpoint parse_chat_url(const std::string& url);

// How long to wait before retry number `retry` (0 for the first): the Retry-After header's
// seconds when given (capped at max_backoff_seconds), else initial_backoff_seconds doubled
// per retry, capped likewise. An HTTP-date Retry-After is not parsed: backoff applies.
double retry_delay_seconds(int retry, const std::optional<std::string>& retry_after, const TeacherOptions& options);

class ChatClient {
 public:
  // `api_key` empty: no Authorization header.
  ChatClient(const ChatEndpoint& endpoint, const TeacherOptions& options, std::string api_key);
  ~ChatClient();
  ChatClient(const ChatClient&) = delete;
  ChatClient& operator=(const ChatClient&) = delete;

  // The assistant's reply (choices[0].message.content; "" when null). IoError when the
  // server answers another 4xx or still fails after options.max_retries retries;
  // FormatError for a 200 whose body is not a chat completion. `retries` counts the
  // attempts repeated.
  std::string complete(const std::vector<ChatMessage>& messages, size_t& retries);

 private:
  const ChatEndpoint endpoint_;
  const TeacherOptions& options_;
  const std::string api_key_;
  std::unique_ptr<httplib::Client> http_;
};

}  // namespace lrem
