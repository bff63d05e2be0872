#include "lrem/dataset.h"

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>

#include "eval/item_store_backend.h"
#include "lrem/error.h"
#include "util/file_io.h"
#include "util/json_reader.h"
#include "util/utf8.h"

namespace lrem {

namespace {

// Streams the JSON objects of a JSON Lines file, or of text already in memory, skipping
// blank lines, with errors that point at the line.
class JsonLinesReader {
 public:
  JsonLinesReader(const std::string& path, size_t max_line_bytes)
      : path_(path), max_line_bytes_(max_line_bytes), file_(std::fopen(path.c_str(), "rb"), &std::fclose) {
    if (!file_) throw IoError("cannot open '" + path + "' for reading");
  }
  // `source` names the text in error messages as a path would.
  JsonLinesReader(std::string_view text, const std::string& source, size_t max_line_bytes)
      : path_(source), max_line_bytes_(max_line_bytes), file_(nullptr, &std::fclose), text_(text) {}

  // The next non-blank line, parsed; nullopt at the end. Its source, which every error
  // about it names, is "<path> line <n>".
  std::optional<JsonDocument> next() {
    std::string& line = line_;
    while (read_line(line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const size_t bad = find_invalid_utf8(line);
      if (bad != std::string::npos) fail("invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
      JsonDocument document(line, where());
      document.object();
      return document;
    }
    return std::nullopt;
  }

  size_t line_number() const { return line_number_; }
  // The text of the line next() returned last.
  const std::string& line() const { return line_; }

  [[noreturn]] void fail(const std::string& problem) const { throw FormatError(where() + ": " + problem); }

 private:
  std::string where() const { return path_ + " line " + std::to_string(line_number_); }

  bool read_line(std::string& line) {
    if (!(file_ ? read_file_line(line) : read_text_line(line))) return false;
    ++line_number_;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > max_line_bytes_) line_too_long(line_number_);
    return true;
  }

  // One raw line, '\n' included if present; false at the end. Never buffers much more
  // than the limit, whatever the line's real length.
  bool read_file_line(std::string& line) {
    line.clear();
    char buf[1 << 16];
    bool any = false;
    while (std::fgets(buf, sizeof buf, file_.get())) {
      any = true;
      line.append(buf);
      if (line.size() > max_line_bytes_ + 1) line_too_long(line_number_ + 1);
      if (!line.empty() && line.back() == '\n') break;
    }
    if (std::ferror(file_.get())) throw IoError("error reading '" + path_ + "'");
    return any;
  }

  bool read_text_line(std::string& line) {
    if (text_.empty()) return false;
    const size_t end = text_.find('\n');
    const size_t length = end == std::string_view::npos ? text_.size() : end + 1;
    if (length > max_line_bytes_ + 1) line_too_long(line_number_ + 1);
    line.assign(text_.substr(0, length));
    text_.remove_prefix(length);
    return true;
  }

  [[noreturn]] void line_too_long(size_t line_number) const {
    throw LimitExceeded(path_ + " line " + std::to_string(line_number) + " is longer than the limit of " +
                        std::to_string(max_line_bytes_) + " bytes");
  }

  std::string path_;
  size_t max_line_bytes_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::string_view text_;  // what is left to read when there is no file
  size_t line_number_ = 0;
  std::string line_;
};

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// The problem with an item, or "" if it can be written; `extra` receives its fields.
std::string item_problem(const Item& item, OrderedJson& extra) {
  if (item.id < 0) return "id " + std::to_string(item.id) + " is negative";
  if (is_blank(item.title)) return "item " + std::to_string(item.id) + " has an empty title";
  if (!is_valid_utf8(item.title)) return "item " + std::to_string(item.id) + " has a title that is not valid UTF-8";
  try {
    extra = OrderedJson::parse(item.extra_json.empty() ? "{}" : item.extra_json);
  } catch (const OrderedJson::exception& e) {
    return "item " + std::to_string(item.id) + " has extra_json that is not valid JSON: " + json_error_text(e);
  }
  if (!extra.is_object()) return "item " + std::to_string(item.id) + " has extra_json that is not a JSON object";
  if (extra.contains("id") || extra.contains("title")) {
    return "item " + std::to_string(item.id) + " has extra_json redefining \"id\" or \"title\"";
  }
  return "";
}

}  // namespace

namespace {

// Ids that files write either as "q1" or as 17.
std::string id_field(const JsonValue& object, const char* name) {
  const JsonValue value = object.at(name);
  if (value.is_string()) return value.as_string();
  if (!value.raw().is_number_integer()) value.expected("a string or an integer");
  return value.dump_short();
}

void each_item(JsonLinesReader& reader, const std::function<void(Item&&, size_t line)>& each) {
  while (std::optional<JsonDocument> document = reader.next()) {
    const JsonValue object = document->root();
    Item item;
    const JsonValue id = object.at("id");
    item.id = id.as_int();
    if (item.id < 0) id.fail("item id " + std::to_string(item.id) + " is negative");
    const JsonValue title = object.at("title");
    item.title = title.as_string();
    if (is_blank(item.title)) title.fail("item " + std::to_string(item.id) + " has an empty title");
    // The item's own field order, which the sorted document lost (the line parsed already).
    OrderedJson extra = OrderedJson::parse(reader.line());
    extra.erase("id");
    extra.erase("title");
    item.extra_json = extra.dump();
    each(std::move(item), reader.line_number());
  }
}

std::vector<Item> items_from(JsonLinesReader&& reader) {
  std::vector<Item> items;
  std::unordered_map<int64_t, size_t> first_line;
  each_item(reader, [&](Item&& item, size_t line) {
    auto [it, inserted] = first_line.emplace(item.id, line);
    if (!inserted) {
      reader.fail("duplicate item id " + std::to_string(item.id) + " (first on line " + std::to_string(it->second) + ")");
    }
    items.push_back(std::move(item));
  });
  return items;
}

std::vector<Query> queries_from(JsonLinesReader&& reader) {
  std::vector<Query> queries;
  std::unordered_map<std::string, size_t> first_line;
  while (std::optional<JsonDocument> document = reader.next()) {
    const JsonValue object = document->root();
    Query query;
    query.id = id_field(object, "id");
    auto [it, inserted] = first_line.emplace(query.id, reader.line_number());
    if (!inserted) {
      reader.fail("duplicate query id \"" + query.id + "\" (first on line " + std::to_string(it->second) + ")");
    }
    const JsonValue text = object.at("text");
    query.text = text.as_string();
    if (is_blank(query.text)) text.fail("query \"" + query.id + "\" has an empty text");
    object.read("category", query.category);
    queries.push_back(std::move(query));
  }
  return queries;
}

std::vector<Qrel> qrels_from(JsonLinesReader&& reader) {
  std::vector<Qrel> qrels;
  std::set<std::pair<std::string, int64_t>> seen;
  while (std::optional<JsonDocument> document = reader.next()) {
    const JsonValue object = document->root();
    Qrel qrel;
    qrel.query_id = id_field(object, "query_id");
    qrel.item_id = object.at("item_id").as_int(0);
    if (std::optional<JsonValue> relevance = object.find("relevance")) qrel.relevance = int(relevance->as_int(-1000, 1000));
    if (!seen.emplace(qrel.query_id, qrel.item_id).second) {
      reader.fail("duplicate judgement for query \"" + qrel.query_id + "\" and item " + std::to_string(qrel.item_id));
    }
    qrels.push_back(std::move(qrel));
  }
  return qrels;
}

}  // namespace

void stream_items(const std::string& path, size_t max_line_bytes, const std::function<void(Item&&, size_t line)>& each) {
  JsonLinesReader reader(path, max_line_bytes);
  each_item(reader, each);
}

std::vector<Item> read_items(const std::string& path, size_t max_line_bytes) {
  return items_from(JsonLinesReader(path, max_line_bytes));
}
std::vector<Query> read_queries(const std::string& path, size_t max_line_bytes) {
  return queries_from(JsonLinesReader(path, max_line_bytes));
}
std::vector<Qrel> read_qrels(const std::string& path, size_t max_line_bytes) {
  return qrels_from(JsonLinesReader(path, max_line_bytes));
}

std::vector<Item> parse_items(std::string_view text, const std::string& source, size_t max_line_bytes) {
  return items_from(JsonLinesReader(text, source, max_line_bytes));
}
std::vector<Query> parse_queries(std::string_view text, const std::string& source, size_t max_line_bytes) {
  return queries_from(JsonLinesReader(text, source, max_line_bytes));
}
std::vector<Qrel> parse_qrels(std::string_view text, const std::string& source, size_t max_line_bytes) {
  return qrels_from(JsonLinesReader(text, source, max_line_bytes));
}

std::string item_problem(const Item& item) {
  OrderedJson extra;
  return item_problem(item, extra);
}

void write_items(const std::string& path, const std::vector<Item>& items) {
  std::unordered_set<int64_t> seen;
  write_item_lines(path, [&](const std::function<void(const Item&)>& sink) {
    for (const Item& item : items) {
      if (!seen.insert(item.id).second) {
        throw InvalidArgument("write_items('" + path + "'): duplicate item id " + std::to_string(item.id));
      }
      sink(item);
    }
  });
}

void write_item_lines(const std::string& path, const std::function<void(const std::function<void(const Item&)>&)>& produce) {
  write_file_atomic(path, [&](std::FILE* f) {
    produce([&](const Item& item) {
      OrderedJson extra;
      const std::string problem = item_problem(item, extra);
      if (!problem.empty()) throw InvalidArgument("write_items('" + path + "'): " + problem);
      OrderedJson line = {{"id", item.id}, {"title", item.title}};
      line.update(extra);
      const std::string text = line.dump() + "\n";
      write_all(f, text.data(), text.size(), path);
    });
  });
}

}  // namespace lrem
