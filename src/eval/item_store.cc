// ItemStore: the handle, and the in-memory storage (the database is item_database.cc).
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "eval/item_database.h"
#include "eval/item_store_backend.h"
#include "lrem/error.h"

namespace lrem {

namespace {

// Items in a vector, with a map from id to position.
class MemoryItems : public ItemStore::Backend {
 public:
  size_t size() const override {
    std::shared_lock lock(mutex_);
    return items_.size();
  }

  std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) const override {
    std::shared_lock lock(mutex_);
    std::vector<std::optional<Item>> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i)
      if (auto it = by_id_.find(ids[i]); it != by_id_.end()) out[i] = items_[it->second];
    return out;
  }

  uint64_t scan(uint64_t after, size_t limit, const std::function<void(const Item&)>& each) const override {
    std::vector<Item> page;
    {
      std::shared_lock lock(mutex_);
      for (size_t i = after; i < items_.size() && page.size() < limit; ++i) page.push_back(items_[i]);
    }
    for (const Item& item : page) each(item);
    return page.size() < limit ? 0 : after + page.size();
  }

  void apply(const std::vector<ItemChange>& changes) override {
    std::unique_lock lock(mutex_);
    check(changes);
    for (const ItemChange& change : changes) {
      const int64_t id = change.item.id;
      switch (change.kind) {
        case ItemChange::Kind::Add:
          by_id_.emplace(id, items_.size());
          items_.push_back(change.item);
          if (items_.back().extra_json.empty()) items_.back().extra_json = "{}";
          break;
        case ItemChange::Kind::Update:
          items_[by_id_.at(id)] = change.item;
          break;
        case ItemChange::Kind::Remove: {
          const size_t at = by_id_.at(id);
          items_.erase(items_.begin() + ptrdiff_t(at));
          by_id_.erase(id);
          for (auto& [other, position] : by_id_)
            if (position > at) --position;
          break;
        }
      }
    }
  }

  bool is_database() const override { return false; }

 private:
  // InvalidArgument for the first change that cannot apply after the ones before it.
  void check(const std::vector<ItemChange>& changes) const {
    std::unordered_map<int64_t, bool> present;  // ids the batch itself adds or removes
    for (size_t i = 0; i < changes.size(); ++i) {
      const ItemChange& change = changes[i];
      const int64_t id = change.item.id;
      auto it = present.find(id);
      const bool there = it != present.end() ? it->second : by_id_.count(id) > 0;
      std::string problem;
      if (change.kind != ItemChange::Kind::Remove) problem = item_problem(change.item);
      if (problem.empty() && change.kind == ItemChange::Kind::Add && there)
        problem = "item id " + std::to_string(id) + " is already present";
      if (problem.empty() && change.kind != ItemChange::Kind::Add && !there)
        problem = "no item with id " + std::to_string(id);
      if (!problem.empty()) throw InvalidArgument("ItemStore: " + problem);
      present[id] = change.kind != ItemChange::Kind::Remove;
    }
  }

  mutable std::shared_mutex mutex_;
  std::vector<Item> items_;
  std::unordered_map<int64_t, size_t> by_id_;
};

constexpr size_t kScanPage = 4096;

}  // namespace

ItemStore::ItemStore() : backend_(std::make_shared<MemoryItems>()) {}

ItemStore::ItemStore(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}

ItemStore::ItemStore(std::vector<Item> items) : ItemStore() {
  std::vector<ItemChange> changes;
  changes.reserve(items.size());
  for (Item& item : items) changes.push_back({ItemChange::Kind::Add, std::move(item)});
  backend_->apply(changes);
}

ItemStore ItemStore::load(const std::string& path, size_t max_line_bytes) {
  return ItemStore(read_items(path, max_line_bytes));
}

ItemStore ItemStore::import_jsonl(const std::string& jsonl_path, const std::string& database_path,
                                  size_t max_line_bytes) {
  ItemDatabase::write(database_path, jsonl_path, /*indexed=*/false, [&](const ItemDatabase::ItemSink& sink) {
    stream_items(jsonl_path, max_line_bytes, [&](Item&& item, size_t line) { sink(item, line); });
  });
  return open(database_path);
}

ItemStore ItemStore::open(const std::string& database_path) { return ItemStore(ItemDatabase::open(database_path)); }

void ItemStore::save(const std::string& path) const {
  write_item_lines(path, [&](const std::function<void(const Item&)>& sink) { for_each(sink); });
}

void ItemStore::add(Item item) { backend_->apply({{ItemChange::Kind::Add, std::move(item)}}); }

void ItemStore::update(Item item) { backend_->apply({{ItemChange::Kind::Update, std::move(item)}}); }

bool ItemStore::remove(int64_t id) {
  if (!contains(id)) return false;
  backend_->apply({{ItemChange::Kind::Remove, Item{id, "", "{}"}}});
  return true;
}

size_t ItemStore::size() const { return backend_->size(); }

std::optional<Item> ItemStore::find(int64_t id) const { return std::move(backend_->find_many({id}).front()); }

std::vector<std::optional<Item>> ItemStore::find_many(const std::vector<int64_t>& ids) const {
  return backend_->find_many(ids);
}

Item ItemStore::at(int64_t id) const {
  std::optional<Item> item = find(id);
  if (!item) throw InvalidArgument("ItemStore: no item with id " + std::to_string(id));
  return std::move(*item);
}

void ItemStore::for_each(const std::function<void(const Item&)>& each) const {
  uint64_t position = 0;
  do position = backend_->scan(position, kScanPage, each);
  while (position != 0);
}

std::vector<Item> ItemStore::items() const {
  std::vector<Item> out;
  out.reserve(size());
  for_each([&](const Item& item) { out.push_back(item); });
  return out;
}

std::vector<int64_t> ItemStore::ids() const {
  std::vector<int64_t> out;
  out.reserve(size());
  for_each([&](const Item& item) { out.push_back(item.id); });
  return out;
}

std::vector<std::string> ItemStore::titles() const {
  std::vector<std::string> out;
  out.reserve(size());
  for_each([&](const Item& item) { out.push_back(item.title); });
  return out;
}

bool ItemStore::is_database() const { return backend_->is_database(); }

}  // namespace lrem
