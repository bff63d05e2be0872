#include "serve/server_request.h"

#include "lrem/error.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

constexpr const char* kBody = "request body";

// Checks and parses the fields shared by the endpoints, against the server's limits.
// Only the listed fields are accepted, so a misspelt option ("querry", "top_k") is
// reported instead of silently ignored.
class RequestBody {
 public:
  RequestBody(const std::string& text, const ServerOptions& options, std::initializer_list<const char*> fields)
      : document_(text, kBody), body_(document_.object()), options_(options) {
    body_.reject_unknown_fields(fields);
  }

  const JsonValue& fields() const { return body_; }

  std::string text(const JsonValue& value) const {
    std::string s = value.as_string();
    if (s.empty()) value.fail("is empty");
    if (s.size() > static_cast<size_t>(options_.max_query_bytes))
      throw LimitExceeded(value.where() + ": is " + std::to_string(s.size()) + " bytes, over the limit of " +
                          std::to_string(options_.max_query_bytes));
    return s;
  }

  std::vector<std::string> texts(const char* field) const {
    const JsonValue value = body_.at(field);
    if (!value.is_array()) value.expected("an array of strings");
    if (value.size() == 0) value.fail("is empty");
    if (value.size() > static_cast<size_t>(options_.max_batch))
      throw LimitExceeded(value.where() + ": holds " + std::to_string(value.size()) + " entries, over the limit of " +
                          std::to_string(options_.max_batch));
    std::vector<std::string> out;
    out.reserve(value.size());
    for (const JsonValue& element : value.elements()) out.push_back(text(element));
    return out;
  }

  int k() const {
    std::optional<JsonValue> value = body_.find("k");
    if (!value) return 10;
    if (!value->raw().is_number_integer()) value->expected("an integer");
    // Unsigned values are compared before any narrowing, so 2^64-1 is "too large", not -1.
    const bool too_large = value->raw().is_number_unsigned()
                               ? value->raw().get<uint64_t>() > static_cast<uint64_t>(options_.max_k)
                               : value->raw().get<int64_t>() > options_.max_k;
    if (too_large) throw LimitExceeded(value->where() + ": is over the limit of " + std::to_string(options_.max_k));
    return static_cast<int>(value->as_int(1, options_.max_k));
  }

  QueryMode mode() const {
    std::optional<JsonValue> value = body_.find("mode");
    if (!value) return parse_query_mode(options_.default_mode);
    if (!value->is_string()) value->expected("a string: \"reason\" or \"direct\"");
    return parse_query_mode(value->as_string());
  }

 private:
  JsonDocument document_;
  JsonValue body_;
  const ServerOptions& options_;
};

// A body the reader refuses is the client's mistake (HTTP 400), like any other bad argument.
template <class Parse>
auto client_error(Parse&& parse) {
  try {
    return parse();
  } catch (const FormatError& e) {
    throw InvalidArgument(e.what());
  }
}

}  // namespace

SearchRequest parse_search_request(const std::string& text, const ServerOptions& options) {
  return client_error([&] {
    const RequestBody body(text, options, {"query", "queries", "k", "mode"});
    SearchRequest request;
    request.batch = body.fields().has("queries");
    if (request.batch == body.fields().has("query"))
      body.fields().fail(request.batch ? "give \"query\" or \"queries\", not both"
                                       : "required field 'query' (a string) or 'queries' (an array of strings) is missing");
    request.queries = request.batch ? body.texts("queries") : std::vector<std::string>{body.text(body.fields().at("query"))};
    request.k = body.k();
    request.mode = body.mode();
    return request;
  });
}

EmbedRequest parse_embed_request(const std::string& text, const ServerOptions& options) {
  return client_error([&] {
    const RequestBody body(text, options, {"texts", "kind", "mode"});
    EmbedRequest request;
    request.texts = body.texts("texts");
    if (std::optional<JsonValue> kind = body.fields().find("kind")) {
      if (!kind->is_string()) kind->expected("a string: \"query\" or \"item\"");
      const std::string value = kind->as_string();
      if (value != "query" && value != "item") kind->fail("unknown kind '" + value + "': use \"query\" or \"item\"");
      request.items = value == "item";
    }
    request.mode = body.mode();  // validated for items too, though items always embed directly
    return request;
  });
}

namespace {

// Fields of OpenAI's request accepted only at the value that leaves the answer as it is.
void accept_neutral(const JsonValue& body) {
  for (const char* penalty : {"frequency_penalty", "presence_penalty"}) {
    if (std::optional<JsonValue> v = body.find(penalty); v && !v->is_null() && v->as_double() != 0)
      v->fail("is not supported (only 0)");
  }
  if (std::optional<JsonValue> v = body.find("logprobs"); v && !v->is_null() && v->as_bool())
    v->fail("is not supported (only false)");
  if (std::optional<JsonValue> v = body.find("user"); v && !v->is_null()) v->as_string();
}

}  // namespace

ChatRequest parse_chat_request(const std::string& text, const ServerOptions& options) {
  return client_error([&] {
    const RequestBody body(text, options,
                           {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed",
                            "stop", "n", "stream", "user", "frequency_penalty", "presence_penalty", "logprobs"});
    const JsonValue& fields = body.fields();
    ChatRequest request;
    fields.read("model", request.model);
    const JsonValue messages = fields.at("messages");
    if (!messages.is_array()) messages.expected("an array of {\"role\", \"content\"} objects");
    if (messages.size() == 0) messages.fail("is empty");
    if (messages.size() > static_cast<size_t>(options.max_batch))
      throw LimitExceeded(messages.where() + ": holds " + std::to_string(messages.size()) +
                          " messages, over the limit of " + std::to_string(options.max_batch));
    for (const JsonValue& m : messages.elements()) {
      if (!m.is_object()) m.expected("an object {\"role\", \"content\"}");
      m.reject_unknown_fields({"role", "content", "name"});
      ChatMessage message{m.at("role").as_string(), m.at("content").as_string()};
      if (message.role != "system" && message.role != "user" && message.role != "assistant")
        m.at("role").fail("unknown role '" + message.role + "': use system, user or assistant");
      request.messages.push_back(std::move(message));
    }
    for (const char* name : {"max_tokens", "max_completion_tokens"}) {
      std::optional<JsonValue> v = fields.find(name);
      if (!v || v->is_null()) continue;
      if (!v->raw().is_number_integer()) v->expected("an integer");
      const bool too_large = v->raw().is_number_unsigned()
                                 ? v->raw().get<uint64_t>() > static_cast<uint64_t>(options.max_completion_tokens)
                                 : v->raw().get<int64_t>() > options.max_completion_tokens;
      if (too_large)
        throw LimitExceeded(v->where() + ": is over the limit of " + std::to_string(options.max_completion_tokens));
      request.max_tokens = static_cast<int>(v->as_int(1, options.max_completion_tokens));
    }
    if (std::optional<JsonValue> v = fields.find("temperature"); v && !v->is_null()) {
      request.temperature = static_cast<float>(v->as_double());
      if (request.temperature < 0 || request.temperature > 2) v->fail("must be in [0, 2]");
    }
    if (std::optional<JsonValue> v = fields.find("top_p"); v && !v->is_null()) {
      request.top_p = static_cast<float>(v->as_double());
      if (!(request.top_p > 0) || request.top_p > 1) v->fail("must be in (0, 1]");
    }
    fields.read("seed", request.seed);
    if (std::optional<JsonValue> v = fields.find("stop"); v && !v->is_null())
      request.stop = v->is_string() ? std::vector<std::string>{v->as_string()} : v->as_strings();
    if (std::optional<JsonValue> v = fields.find("n"); v && !v->is_null() && v->as_int() != 1)
      v->fail("only 1 choice is offered");
    if (std::optional<JsonValue> v = fields.find("stream"); v && !v->is_null() && v->as_bool())
      v->fail("streaming is not offered; send \"stream\": false");
    accept_neutral(fields);
    return request;
  });
}

}  // namespace lrem
