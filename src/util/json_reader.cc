#include "util/json_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lrem/error.h"
#include "util/file_io.h"

namespace lrem {

namespace {

using json = Json;

// RFC 6901: '~' and '/' inside a key are escaped so the pointer stays unambiguous.
std::string escape_pointer_token(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

const char* type_phrase(const json& node) {
  switch (node.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

}  // namespace

std::string json_error_text(const std::exception& e) {
  const char* text = e.what();
  // "[json.exception.parse_error.101] parse error at line 1, column 1: ..." -> "parse error at ..."
  if (text[0] == '[') {
    if (const char* close = std::strchr(text, ']')) {
      text = close + 1;
      while (*text == ' ') ++text;
    }
  }
  return text;
}

std::string JsonValue::where() const { return *source_ + ": " + pointer(); }

void JsonValue::fail(const std::string& problem) const { throw FormatError(where() + ": " + problem); }

std::string JsonValue::dump_short() const {
  std::string text = node_->dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr size_t kMax = 80;
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

void JsonValue::expected(const std::string& what) const {
  fail("expected " + what + ", got " + type_phrase(*node_) + (node_->is_structured() ? "" : " " + dump_short()));
}

int64_t JsonValue::as_int(int64_t min, int64_t max) const {
  int64_t value = 0;
  if (node_->is_number_unsigned()) {
    const uint64_t u = node_->get<uint64_t>();
    if (u > uint64_t(std::numeric_limits<int64_t>::max())) fail("integer " + dump_short() + " is out of range");
    value = int64_t(u);
  } else if (node_->is_number_integer()) {
    value = node_->get<int64_t>();
  } else {
    expected("an integer");
  }
  if (value < min || value > max)
    fail("expected an integer between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
         std::to_string(value));
  return value;
}

uint64_t JsonValue::as_uint() const {
  if (node_->is_number_unsigned()) return node_->get<uint64_t>();
  if (node_->is_number_integer())
    fail("expected a non-negative integer, got " + dump_short());
  expected("a non-negative integer");
}

double JsonValue::as_double() const {
  if (!node_->is_number()) expected("a number");
  const double value = node_->get<double>();
  if (!std::isfinite(value)) fail("expected a finite number, got " + dump_short());
  return value;
}

bool JsonValue::as_bool() const {
  if (!node_->is_boolean()) expected("true or false");
  return node_->get<bool>();
}

std::string JsonValue::as_string() const {
  if (!node_->is_string()) expected("a string");
  return node_->get<std::string>();
}

std::vector<std::string> JsonValue::as_strings() const {
  std::vector<std::string> out;
  for (const JsonValue& element : elements()) out.push_back(element.as_string());
  return out;
}

size_t JsonValue::size() const {
  if (!node_->is_structured()) expected("an array or an object");
  return node_->size();
}

JsonValue JsonValue::child(const json& node, const std::string& token) const {
  return JsonValue(node, *source_, pointer_ + "/" + escape_pointer_token(token));
}

JsonValue JsonValue::operator[](size_t index) const {
  if (!node_->is_array()) expected("an array");
  if (index >= node_->size())
    fail("expected at least " + std::to_string(index + 1) + " elements, got " + std::to_string(node_->size()));
  return child((*node_)[index], std::to_string(index));
}

std::vector<JsonValue> JsonValue::elements() const {
  if (!node_->is_array()) expected("an array");
  std::vector<JsonValue> out;
  out.reserve(node_->size());
  for (size_t i = 0; i < node_->size(); ++i) out.push_back(child((*node_)[i], std::to_string(i)));
  return out;
}

std::vector<std::pair<std::string, JsonValue>> JsonValue::members() const {
  if (!node_->is_object()) expected("an object");
  std::vector<std::pair<std::string, JsonValue>> out;
  out.reserve(node_->size());
  for (auto it = node_->begin(); it != node_->end(); ++it) out.emplace_back(it.key(), child(it.value(), it.key()));
  return out;
}

bool JsonValue::has(const std::string& key) const { return find(key).has_value(); }

std::optional<JsonValue> JsonValue::find(const std::string& key) const {
  if (!node_->is_object()) expected("an object");
  auto it = node_->find(key);
  if (it == node_->end()) return std::nullopt;
  return child(*it, key);
}

JsonValue JsonValue::at(const std::string& key) const {
  std::optional<JsonValue> value = find(key);
  if (!value) fail("required field '" + key + "' is missing");
  return *value;
}

int64_t JsonValue::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  std::optional<JsonValue> value = find(key);
  return value && !value->is_null() ? value->as_int(min, max) : fallback;
}

double JsonValue::get_double(const std::string& key, double fallback) const {
  std::optional<JsonValue> value = find(key);
  return value && !value->is_null() ? value->as_double() : fallback;
}

bool JsonValue::get_bool(const std::string& key, bool fallback) const {
  std::optional<JsonValue> value = find(key);
  return value && !value->is_null() ? value->as_bool() : fallback;
}

std::string JsonValue::get_string(const std::string& key, const std::string& fallback) const {
  std::optional<JsonValue> value = find(key);
  return value && !value->is_null() ? value->as_string() : fallback;
}

void JsonValue::reject_unknown_fields(std::initializer_list<const char*> known) const {
  reject_unknown_fields(std::vector<std::string>(known.begin(), known.end()));
}

void JsonValue::reject_unknown_fields(const std::vector<std::string>& known) const {
  for (const auto& [key, value] : members()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    value.fail("unknown field '" + key + "' (known: " + list + ")");
  }
}

JsonFields::JsonFields(JsonValue object) : object_(std::move(object)) {
  if (!object_.is_object()) object_.expected("an object");
}

std::optional<JsonValue> JsonFields::find(const std::string& key) {
  known_.push_back(key);
  return object_.find(key);
}

JsonDocument::JsonDocument(const std::string& text, std::string source) : source_(std::move(source)) {
  try {
    root_ = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    throw FormatError(source_ + ": not valid JSON: " + json_error_text(e));
  }
}

JsonDocument JsonDocument::load(const std::string& path, size_t max_bytes) {
  return JsonDocument(read_file(path, max_bytes), path);
}

JsonValue JsonDocument::object() const {
  JsonValue value = root();
  if (!value.is_object()) value.expected("a JSON object at the top level");
  return value;
}

}  // namespace lrem
