#include "serve/server_request.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

using json = nlohmann::ordered_json;  // unknown fields are reported in the order the client wrote them

// The body as a JSON object holding only `fields`: unknown fields are refused so a misspelt
// option ("querry", "top_k") is reported instead of silently ignored.
json parse_body(const std::string& text, const std::vector<const char*>& fields) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error (nlohmann's lexer also rejects strings that are not valid UTF-8), or
    // out_of_range for a number like 1e999.
    throw InvalidArgument("the request body is not valid JSON: " + json_error_text(e));
  }
  if (!body.is_object()) throw InvalidArgument("the request body must be a JSON object");
  for (const auto& field : body.items()) {
    bool known = false;
    for (const char* f : fields) known = known || field.key() == f;
    if (!known) {
      std::string expected;
      for (const char* f : fields) expected += std::string(expected.empty() ? "" : ", ") + f;
      throw InvalidArgument("unknown field \"" + field.key() + "\"; expected: " + expected);
    }
  }
  return body;
}

// Checks and parses the fields shared by the endpoints, against the server's limits.
class RequestReader {
 public:
  explicit RequestReader(const ServerOptions& options) : options_(options) {}

  std::string text(const json& value, const std::string& what) const {
    if (!value.is_string()) throw InvalidArgument(what + " must be a string");
    std::string s = value.get<std::string>();
    if (s.empty()) throw InvalidArgument(what + " is empty");
    if (s.size() > static_cast<size_t>(options_.max_query_bytes))
      throw LimitExceeded(what + " is " + std::to_string(s.size()) + " bytes, over the limit of " +
                          std::to_string(options_.max_query_bytes));
    return s;
  }

  std::vector<std::string> texts(const json& body, const char* field) const {
    const json& value = body.at(field);
    if (!value.is_array()) throw InvalidArgument(std::string("\"") + field + "\" must be an array of strings");
    if (value.empty()) throw InvalidArgument(std::string("\"") + field + "\" is empty");
    if (value.size() > static_cast<size_t>(options_.max_batch))
      throw LimitExceeded(std::string("\"") + field + "\" holds " + std::to_string(value.size()) +
                          " entries, over the limit of " + std::to_string(options_.max_batch));
    std::vector<std::string> out;
    out.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i)
      out.push_back(text(value[i], std::string("\"") + field + "\"[" + std::to_string(i) + "]"));
    return out;
  }

  int k(const json& body) const {
    if (!body.contains("k")) return 10;
    const json& value = body.at("k");
    if (!value.is_number_integer()) throw InvalidArgument("\"k\" must be an integer");
    // Unsigned values are compared before any narrowing, so 2^64-1 is "too large", not -1.
    const bool too_large = value.is_number_unsigned() ? value.get<uint64_t>() > static_cast<uint64_t>(options_.max_k)
                                                      : value.get<int64_t>() > options_.max_k;
    if (too_large) throw LimitExceeded("\"k\" is over the limit of " + std::to_string(options_.max_k));
    const int64_t k = value.get<int64_t>();
    if (k <= 0) throw InvalidArgument("\"k\" must be positive, got " + std::to_string(k));
    return static_cast<int>(k);
  }

  QueryMode mode(const json& body) const {
    if (!body.contains("mode")) return parse_query_mode(options_.default_mode);
    const json& value = body.at("mode");
    if (!value.is_string()) throw InvalidArgument("\"mode\" must be a string: \"reason\" or \"direct\"");
    return parse_query_mode(value.get<std::string>());
  }

 private:
  const ServerOptions& options_;
};

}  // namespace

SearchRequest parse_search_request(const std::string& text, const ServerOptions& options) {
  const RequestReader reader(options);
  const json body = parse_body(text, {"query", "queries", "k", "mode"});
  SearchRequest request;
  request.batch = body.contains("queries");
  if (request.batch == body.contains("query"))
    throw InvalidArgument(request.batch ? "give \"query\" or \"queries\", not both"
                                        : "missing field \"query\" (a string) or \"queries\" (an array of strings)");
  request.queries = request.batch ? reader.texts(body, "queries")
                                  : std::vector<std::string>{reader.text(body.at("query"), "\"query\"")};
  request.k = reader.k(body);
  request.mode = reader.mode(body);
  return request;
}

EmbedRequest parse_embed_request(const std::string& text, const ServerOptions& options) {
  const RequestReader reader(options);
  const json body = parse_body(text, {"texts", "kind", "mode"});
  if (!body.contains("texts")) throw InvalidArgument("missing field \"texts\" (an array of strings)");
  EmbedRequest request;
  request.texts = reader.texts(body, "texts");
  if (body.contains("kind")) {
    if (!body.at("kind").is_string()) throw InvalidArgument("\"kind\" must be a string: \"query\" or \"item\"");
    const std::string kind = body.at("kind").get<std::string>();
    if (kind != "query" && kind != "item")
      throw InvalidArgument("unknown kind '" + kind + "': use \"query\" or \"item\"");
    request.items = kind == "item";
  }
  request.mode = reader.mode(body);  // validated for items too, though items always embed directly
  return request;
}

}  // namespace lrem
