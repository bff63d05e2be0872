#include "retrieval/catalogue.h"

#include <mutex>
#include <unordered_set>

#include "eval/item_database.h"
#include "lrem/error.h"

namespace lrem {

Catalogue::Catalogue(std::shared_ptr<Index> index, ItemStore items, std::string dir)
    : index_(std::move(index)), items_(std::move(items)), dir_(std::move(dir)) {}

std::vector<std::vector<SearchHit>> Catalogue::search(const float* queries, int64_t nq, int k) const {
  std::shared_lock lock(mutex_);
  const SearchResult found = index_->search(queries, nq, k, /*normalized=*/true);
  std::vector<int64_t> ids;
  for (int64_t id : found.ids)
    if (id >= 0) ids.push_back(id);
  const std::vector<std::optional<Item>> items = items_.find_many(ids);
  std::vector<std::vector<SearchHit>> out(static_cast<size_t>(nq));
  size_t next = 0;
  for (int64_t q = 0; q < nq; ++q) {
    const int64_t* row = found.ids_of(q);
    const float* scores = found.scores_of(q);
    for (int j = 0; j < found.k && row[j] >= 0; ++j) {
      const std::optional<Item>& item = items[next++];
      if (!item)
        throw FormatError("the index returned item id " + std::to_string(row[j]) +
                          " which is not in the item store; the index and items file do not match (change both "
                          "through the Retriever's add_items / update_items / remove_items)");
      out[size_t(q)].push_back({row[j], scores[j], item->title, item->extra_json});
    }
  }
  return out;
}

void Catalogue::apply(const std::vector<ItemChange>& changes, const float* vectors) {
  if (changes.empty()) return;
  std::unordered_set<int64_t> seen;
  std::vector<int64_t> removed, added;
  for (const ItemChange& change : changes) {
    if (!seen.insert(change.item.id).second)
      throw InvalidArgument("item id " + std::to_string(change.item.id) + " appears twice in one update; send one "
                            "change per item (nothing was changed)");
    if (change.kind != ItemChange::Kind::Add) removed.push_back(change.item.id);
    if (change.kind != ItemChange::Kind::Remove) added.push_back(change.item.id);
  }
  std::unique_lock lock(mutex_);
  if (index_->read_only())
    throw InvalidArgument("the catalogue's index was opened memory-mapped, which is read-only: open it without "
                          "mmap to add, update or remove items (nothing was changed)");
  if (!removed.empty() && index_->hnsw_m() > 0)
    throw InvalidArgument("the catalogue's index is HNSW, which cannot remove or replace vectors: rebuild the index "
                          "(`lrem index build --overwrite`) to update or remove items, or use a Flat or IVF index");
  ItemDatabase* database = dynamic_cast<ItemDatabase*>(&ItemStoreAccess::backend(items_));
  // The commit point: once the store has the changes, the index must follow (from the log
  // after a crash), so everything that could refuse them was checked above or is checked here.
  if (database && database->indexed())
    database->apply_logged(changes, vectors, index_->dim());
  else
    ItemStoreAccess::backend(items_).apply(changes);
  // No id appears twice, so removing every replaced one first and adding after is the same as
  // applying the changes in order.
  if (!removed.empty()) index_->remove(removed.data(), int64_t(removed.size()));
  if (!added.empty()) index_->add(vectors, added.data(), int64_t(added.size()), /*normalized=*/true);
}

void Catalogue::checkpoint() const {
  if (dir_.empty()) throw InvalidArgument("checkpoint: this retriever was not opened from an index directory");
  std::shared_lock lock(mutex_);  // updates wait, searches go on
  index_->save(dir_, items_);
}

}  // namespace lrem
