// The one typed JSON reader every lrem parser uses (configs, tokenizers, index metadata,
// datasets, HTTP requests). A JsonValue is a view of one node that knows where it sits
// (source name plus JSON pointer), so every error has one style:
//   "<source>: <pointer>: expected <what>, got <value>"
// and never shows nlohmann's internals. All failures throw lrem::FormatError.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lrem {

class JsonValue {
 public:
  JsonValue(const nlohmann::json& node, const std::string& source, std::string pointer = "")
      : node_(&node), source_(&source), pointer_(std::move(pointer)) {}

  // "<source>: <pointer>: <problem>" (the pointer is "/" for the root).
  [[noreturn]] void fail(const std::string& problem) const;
  // Shorthand for fail("expected <what>, got <this value>").
  [[noreturn]] void expected(const std::string& what) const;
  std::string where() const;             // "<source>: <pointer>"
  std::string pointer() const { return pointer_.empty() ? "/" : pointer_; }
  std::string dump_short() const;        // the value as JSON, cut to a readable length

  bool is_null() const { return node_->is_null(); }
  bool is_object() const { return node_->is_object(); }
  bool is_array() const { return node_->is_array(); }
  bool is_string() const { return node_->is_string(); }
  bool is_number() const { return node_->is_number(); }
  const nlohmann::json& raw() const { return *node_; }

  // Scalars; integers are range-checked (inclusive) so derived sizes cannot overflow.
  int64_t as_int(int64_t min = std::numeric_limits<int64_t>::min(),
                 int64_t max = std::numeric_limits<int64_t>::max()) const;
  double as_double() const;  // any finite JSON number
  bool as_bool() const;
  std::string as_string() const;
  std::vector<std::string> as_strings() const;  // an array of strings

  // Containers.
  size_t size() const;                      // of an array or object; fails on scalars
  JsonValue operator[](size_t index) const;  // array element, bounds-checked
  std::vector<JsonValue> elements() const;   // array elements (fails unless an array)
  std::vector<std::pair<std::string, JsonValue>> members() const;  // object members in order

  // Object fields. find() treats a missing field as nullopt; null values are present.
  bool has(const std::string& key) const;
  std::optional<JsonValue> find(const std::string& key) const;
  JsonValue at(const std::string& key) const;  // required: fails when missing
  // Optional fields with a fallback for "missing or null".
  int64_t get_int(const std::string& key, int64_t fallback, int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max()) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  // Fails naming the first field that is not in `known` (for formats where a typo must
  // not be silently ignored, such as lrem's own configs and HTTP requests).
  void reject_unknown_fields(std::initializer_list<const char*> known) const;

 private:
  JsonValue child(const nlohmann::json& node, const std::string& token) const;

  const nlohmann::json* node_;
  const std::string* source_;
  std::string pointer_;
};

// Owns a parsed document and its source name; root() views it. Parse errors say where
// (line and column) and what, in the same style.
class JsonDocument {
 public:
  JsonDocument(const std::string& text, std::string source);
  // Reads the file (at most max_bytes) and parses it; the path is the source name.
  static JsonDocument load(const std::string& path, size_t max_bytes = size_t(1) << 26);

  JsonValue root() const { return JsonValue(root_, source_); }
  // root(), failing unless it is an object.
  JsonValue object() const;
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  nlohmann::json root_;
};

// nlohmann's exception text without its "[json.exception.x.y] " prefix.
std::string json_error_text(const std::exception& e);

}  // namespace lrem
