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

  // `single`: a lone string stands for a one-element array (OpenAI's "input").
  std::vector<std::string> texts(const char* field, bool single = false) const {
    const JsonValue value = body_.at(field);
    if (single && value.is_string()) return {text(value)};
    if (!value.is_array()) value.expected(single ? "a string or an array of strings" : "an array of strings");
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

  // "kind": "query" (the default) or "item"; true for items.
  bool items() const {
    std::optional<JsonValue> kind = body_.find("kind");
    if (!kind) return false;
    if (!kind->is_string()) kind->expected("a string: \"query\" or \"item\"");
    const std::string value = kind->as_string();
    if (value != "query" && value != "item") kind->fail("unknown kind '" + value + "': use \"query\" or \"item\"");
    return value == "item";
  }

  // A non-empty array of at most max_batch entries.
  std::vector<JsonValue> list(const char* field) const {
    const JsonValue value = body_.at(field);
    if (!value.is_array()) value.expected("an array");
    if (value.size() == 0) value.fail("is empty");
    if (value.size() > static_cast<size_t>(options_.max_batch))
      throw LimitExceeded(value.where() + ": holds " + std::to_string(value.size()) + " entries, over the limit of " +
                          std::to_string(options_.max_batch));
    return value.elements();
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
    request.items = body.items();
    request.mode = body.mode();  // validated for items too, though items always embed directly
    return request;
  });
}

EmbeddingsRequest parse_embeddings_request(const std::string& text, const ServerOptions& options, int dim) {
  return client_error([&] {
    const RequestBody body(text, options, {"input", "model", "encoding_format", "dimensions", "user", "kind", "mode"});
    const JsonValue& fields = body.fields();
    EmbeddingsRequest request;
    const JsonValue input = fields.at("input");
    // OpenAI also takes token ids (an array of integers, or of such arrays); they would
    // bypass the prompt template, so only text is served.
    if (input.is_array() && input.size() > 0 && !input.elements().front().is_string())
      input.fail("token-id input is not accepted; send the text as a string or an array of strings");
    request.embed.texts = body.texts("input", true);
    request.embed.items = body.items();
    request.embed.mode = body.mode();
    fields.read("model", request.model);
    if (std::optional<JsonValue> v = fields.find("encoding_format"); v && !v->is_null()) {
      const std::string format = v->as_string();
      if (format != "float" && format != "base64") v->fail("unknown encoding_format '" + format + "': use \"float\" or \"base64\"");
      request.base64 = format == "base64";
    }
    if (std::optional<JsonValue> v = fields.find("dimensions"); v && !v->is_null()) {
      if (!v->raw().is_number_integer()) v->expected("an integer");
      if (v->raw().is_number_unsigned() ? v->raw().get<uint64_t>() > static_cast<uint64_t>(dim)
                                        : v->raw().get<int64_t>() > dim)
        v->fail("is over the served model's " + std::to_string(dim) + " dimensions");
      request.dimensions = static_cast<int>(v->as_int(1, dim));
    }
    if (std::optional<JsonValue> v = fields.find("user"); v && !v->is_null()) v->as_string();
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

AdminItemsRequest parse_admin_items_request(const std::string& text, const ServerOptions& options, bool removal) {
  return client_error([&] {
    const RequestBody body(text, options, {removal ? "ids" : "items"});
    AdminItemsRequest request;
    if (removal) {
      for (const JsonValue& id : body.list("ids")) request.ids.push_back(id.as_int(0));
      return request;
    }
    for (const JsonValue& item : body.list("items"))
      if (!item.is_object()) item.expected("an item object {\"id\": int, \"title\": str, ...}");
    // One JSON Lines line per item (in its own field order), so an item is checked exactly
    // as items.jsonl's are; "line n" in an error is the n-th item.
    std::string lines;
    const OrderedJson ordered = OrderedJson::parse(text);
    for (const OrderedJson& item : ordered.at("items")) lines += item.dump() + "\n";
    request.items = parse_items(lines, std::string(kBody) + " /items");
    return request;
  });
}

}  // namespace lrem
