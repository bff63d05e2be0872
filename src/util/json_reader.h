// The one typed JSON reader every lrem parser uses (configs, tokenizers, index metadata,
// datasets, HTTP requests). A JsonValue is a view of one node that knows where it sits
// (source name plus JSON pointer), so every error has one style:
//   "<source>: <pointer>: expected <what>, got <value>"
// and never shows nlohmann's internals. All failures throw lrem::FormatError.
//
// Objects are nlohmann::json's sorted maps, not ordered_json: ordered_json finds a key by a
// linear scan, so parsing a tokenizer.json vocabulary of 151,643 keys was quadratic (about
// 15 s of CPU). Unknown fields are therefore reported, and pass-through fields written back,
// in key order.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace lrem {

using Json = nlohmann::json;
// For documents lrem writes (responses, reports): members stay in the order they are set.
using OrderedJson = nlohmann::ordered_json;

class JsonValue {
 public:
  JsonValue(const Json& node, const std::string& source, std::string pointer = "")
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
  const Json& raw() const { return *node_; }

  // Scalars; integers are range-checked (inclusive) so derived sizes cannot overflow.
  int64_t as_int(int64_t min = std::numeric_limits<int64_t>::min(),
                 int64_t max = std::numeric_limits<int64_t>::max()) const;
  uint64_t as_uint() const;  // a non-negative integer, up to 2^64 - 1 (seeds, hashes)
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
  // Assigns a field to `out` when it is present and not null, checked for T (string, bool,
  // floating point, or an integer type whose range bounds the value); otherwise leaves
  // `out` as it is. Returns whether it assigned.
  template <typename T>
  bool read(const std::string& key, T& out) const;

  // Fails naming the first field that is not in `known` (for formats where a typo must
  // not be silently ignored, such as lrem's own configs and HTTP requests).
  void reject_unknown_fields(std::initializer_list<const char*> known) const;
  void reject_unknown_fields(const std::vector<std::string>& known) const;

 private:
  JsonValue child(const Json& node, const std::string& token) const;

  const Json* node_;
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
  Json root_;
};

// The fields of one object read by name, remembering every name asked for so that any
// other field can then be refused (configs whose every field is optional, where a typo
// must not be silently ignored).
class JsonFields {
 public:
  explicit JsonFields(JsonValue object);
  template <typename T>
  bool read(const std::string& key, T& out) {
    known_.push_back(key);
    return object_.read(key, out);
  }
  std::optional<JsonValue> find(const std::string& key);  // also marks the key as known
  // Fails naming the first field that no read() or find() asked for.
  void reject_unknown() const { object_.reject_unknown_fields(known_); }

 private:
  JsonValue object_;
  std::vector<std::string> known_;
};

template <typename T>
bool JsonValue::read(const std::string& key, T& out) const {
  std::optional<JsonValue> value = find(key);
  if (!value || value->is_null()) return false;
  if constexpr (std::is_same_v<T, std::string>) {
    out = value->as_string();
  } else if constexpr (std::is_same_v<T, bool>) {
    out = value->as_bool();
  } else if constexpr (std::is_floating_point_v<T>) {
    out = T(value->as_double());
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    out = value->as_uint();
  } else {
    static_assert(std::is_integral_v<T> && sizeof(T) <= sizeof(int64_t), "unsupported field type");
    out = T(value->as_int(int64_t(std::numeric_limits<T>::min()), int64_t(std::numeric_limits<T>::max())));
  }
  return true;
}

// nlohmann's exception text without its "[json.exception.x.y] " prefix.
std::string json_error_text(const std::exception& e);

}  // namespace lrem
