// The storage behind an ItemStore: items in memory (item_store.cc) or in an SQLite database
// (item_database.h). Changes arrive as one batch that is applied whole or not at all.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lrem/dataset.h"

namespace lrem {

struct ItemChange {
  enum class Kind { Add, Update, Remove };
  Kind kind = Kind::Add;
  Item item;  // only item.id for Remove
};

class ItemStore::Backend {
 public:
  virtual ~Backend() = default;
  virtual size_t size() const = 0;
  virtual std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) const = 0;
  // Calls `each` for up to `limit` items after position `after` (0: from the start) and
  // returns the position to continue from, or 0 at the end. No lock is held during `each`.
  virtual uint64_t scan(uint64_t after, size_t limit, const std::function<void(const Item&)>& each) const = 0;
  // All changes or none: InvalidArgument naming the first offending change (an Add of an id
  // present, an Update or Remove of one absent, an item write_items would refuse).
  virtual void apply(const std::vector<ItemChange>& changes) = 0;
  virtual bool is_database() const = 0;
};

// The problem with an item, or "" if a store can take it.
std::string item_problem(const Item& item);
// read_items without collecting: `each` gets every item and its line number as it is read
// (a duplicate id is the caller's to find).
// write_items from a producer that calls its argument with each item (ids already unique).
void write_item_lines(const std::string& path, const std::function<void(const std::function<void(const Item&)>&)>& produce);
void stream_items(const std::string& path, size_t max_line_bytes, const std::function<void(Item&&, size_t line)>& each);

struct ItemStoreAccess {
  static ItemStore::Backend& backend(const ItemStore& store) { return *store.backend_; }
  static ItemStore wrap(std::shared_ptr<ItemStore::Backend> backend) { return ItemStore(std::move(backend)); }
};

}  // namespace lrem
