// JSON Lines data files: one JSON object per line, blank lines ignored.
//
//   items.jsonl    {"id": 42, "title": "red running shoes", ...any other fields}
//   queries.jsonl  {"id": "q1" | 17, "text": "shoes for a marathon", "category": "sports"}
//   qrels.jsonl    {"query_id": "q1" | 17, "item_id": 42, "relevance": 2}
//
// Item ids are non-negative 64-bit integers, unique within a file; titles are non-empty.
// Query ids may be strings or integers in the file and are kept as strings ("17"); the
// category is optional (""). A qrel's relevance is an integer, 1 when omitted; graded
// judgements (0 = not relevant) are allowed.
//
// Every read error is a FormatError naming the file, the 1-based line number and the
// problem (bad JSON, missing or mistyped field, duplicate id, empty title, invalid UTF-8);
// a line longer than max_line_bytes is LimitExceeded. Writes are atomic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lrem {

constexpr size_t kDefaultMaxLineBytes = size_t(1) << 20;

struct Item {
  int64_t id = -1;
  std::string title;
  // Every other field of the item's line, as a serialised JSON object ("{}" if none).
  std::string extra_json = "{}";
};

struct Query {
  std::string id;
  std::string text;
  std::string category;
};

struct Qrel {
  std::string query_id;
  int64_t item_id = -1;
  int relevance = 1;
};

std::vector<Item> read_items(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);
std::vector<Query> read_queries(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);
std::vector<Qrel> read_qrels(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);

// The same readers over JSON Lines text already in memory (a request body, a string from
// Python); `source` stands for the file name in error messages.
std::vector<Item> parse_items(std::string_view text, const std::string& source,
                              size_t max_line_bytes = kDefaultMaxLineBytes);
std::vector<Query> parse_queries(std::string_view text, const std::string& source,
                                 size_t max_line_bytes = kDefaultMaxLineBytes);
std::vector<Qrel> parse_qrels(std::string_view text, const std::string& source,
                              size_t max_line_bytes = kDefaultMaxLineBytes);

// Writes items as JSON Lines (id, title, then the extra fields). InvalidArgument for a
// negative or duplicate id, an empty or invalid-UTF-8 title, or extra_json that is not a
// JSON object (or that redefines "id"/"title").
void write_items(const std::string& path, const std::vector<Item>& items);

struct ItemFields;  // an item's extra_json, parsed (internal: src/eval/item_fields.h)

// The catalogue: items in insertion order with lookup by id.
class ItemStore {
 public:
  ItemStore() = default;
  explicit ItemStore(std::vector<Item> items);  // InvalidArgument on a duplicate id

  static ItemStore load(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);
  void save(const std::string& path) const;

  // InvalidArgument (store unchanged) for an id already present or an item write_items
  // would refuse.
  void add(Item item);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool contains(int64_t id) const { return by_id_.count(id) > 0; }
  const Item* find(int64_t id) const;  // nullptr if absent
  const Item& at(int64_t id) const;    // InvalidArgument if absent
  const std::string& title(int64_t id) const { return at(id).title; }
  const std::vector<Item>& items() const { return items_; }
  std::vector<int64_t> ids() const;
  std::vector<std::string> titles() const;
  // The item's extra fields as parsed when it was added; InvalidArgument if absent.
  const ItemFields& fields(int64_t id) const;

 private:
  std::vector<Item> items_;
  std::vector<std::shared_ptr<const ItemFields>> fields_;  // parallel to items_; shared by copies
  std::unordered_map<int64_t, size_t> by_id_;
};

}  // namespace lrem
