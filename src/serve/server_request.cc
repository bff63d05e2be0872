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

}  // namespace lrem
