// The item store at catalogue scale (bench/item_store_workload.h): lrem's SQLite item
// database, or with --memory the in-memory store reading the same file.
//
//   bench_item_store --items N [--dir DIR] [--k 10] [--lookups 20000] [--updates 5] [--memory]
//
// SQLite's updates go through ItemDatabase::apply_logged, the commit point of a live update;
// the in-memory store applies them with no log and nothing to make durable.
#include <filesystem>

#include "eval/item_database.h"
#include "eval/item_store_backend.h"
#include "item_store_workload.h"

namespace {

using namespace lrem;

class ItemStoreUnderTest : public bench::StorageUnderTest {
 public:
  ItemStoreUnderTest(bool memory, std::string database) : memory_(memory), database_(std::move(database)) {}

  std::string name() const override { return memory_ ? "memory" : "sqlite"; }

  void import(const std::string& jsonl) override {
    store_ = memory_ ? ItemStore::load(jsonl) : ItemStore::import_jsonl(jsonl, database_);
  }

  std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) override { return store_.find_many(ids); }

  void update_logged(const std::vector<Item>& items, const float* vectors, int dim) override {
    std::vector<ItemChange> changes;
    for (const Item& item : items) changes.push_back({ItemChange::Kind::Update, item});
    ItemStore::Backend& backend = ItemStoreAccess::backend(store_);
    if (auto* database = dynamic_cast<ItemDatabase*>(&backend))
      database->apply_logged(changes, vectors, dim);
    else
      backend.apply(changes);
  }

  int64_t file_bytes() const override { return memory_ ? 0 : int64_t(std::filesystem::file_size(database_)); }

 private:
  bool memory_;
  std::string database_;
  ItemStore store_;
};

}  // namespace

int main(int argc, char** argv) {
  return bench::run_item_store_bench("bench_item_store", argc, argv, {"memory"},
                                     [](const bench::Args& args, const std::string& stem) {
                                       return std::make_unique<ItemStoreUnderTest>(args.flag("memory"), stem + ".sqlite");
                                     });
}
