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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// The catalogue: items in insertion order with lookup by id, behind one interface for two
// kinds of storage:
//   - in memory (the constructors, load): small catalogues, training, evaluation;
//   - an SQLite database file (import_jsonl, open): the served catalogue, which may be far
//     larger than memory. Lookups by id cost O(log n) each and read only those rows; the
//     database's page cache is bounded, whatever the catalogue size; writes are transactions.
// An ItemStore is a handle: copies share the same items, so a Retriever built from a store
// sees what the caller adds to it later. Every method may be called from any thread.
class ItemStore {
 public:
  ItemStore();  // empty, in memory
  explicit ItemStore(std::vector<Item> items);  // InvalidArgument on a duplicate id

  static ItemStore load(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);
  // Streams items.jsonl into a new database at `database_path` (replacing a file there, only
  // once the import finished) and opens it. Errors as read_items; memory stays bounded.
  static ItemStore import_jsonl(const std::string& jsonl_path, const std::string& database_path,
                                size_t max_line_bytes = kDefaultMaxLineBytes);
  // Opens a database written by import_jsonl or by saving an index (IoError if missing,
  // FormatError if it is not an lrem item database).
  static ItemStore open(const std::string& database_path);
  // Writes the items as JSON Lines, streamed, atomically.
  void save(const std::string& path) const;

  // InvalidArgument (store unchanged) for an id already present or an item write_items
  // would refuse. The catalogue of a saved index refuses them too: update it through its
  // Retriever (add_items...), which keeps the index in step.
  void add(Item item);
  // Replaces the item with the same id, keeping its position; InvalidArgument if absent.
  void update(Item item);
  // True if the item was there.
  bool remove(int64_t id);

  size_t size() const;
  bool empty() const { return size() == 0; }
  bool contains(int64_t id) const { return find(id).has_value(); }
  std::optional<Item> find(int64_t id) const;  // nullopt if absent
  // find() for each id, in one pass: O(ids.size()) lookups, nothing else is read.
  std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) const;
  Item at(int64_t id) const;  // InvalidArgument if absent
  std::string title(int64_t id) const { return at(id).title; }
  // Every item in order, streamed (a database store reads it page by page); `each` may call
  // back into the store.
  void for_each(const std::function<void(const Item&)>& each) const;
  // These hold the whole catalogue in memory: for in-memory stores, training and evaluation.
  std::vector<Item> items() const;
  std::vector<int64_t> ids() const;
  std::vector<std::string> titles() const;
  // True for a store backed by a database file.
  bool is_database() const;

  class Backend;  // the storage (src/eval/item_store_backend.h)

 private:
  explicit ItemStore(std::shared_ptr<Backend> backend);
  friend struct ItemStoreAccess;
  std::shared_ptr<Backend> backend_;
};

}  // namespace lrem
