// An index and its item store behind one lock: a search reads both at one moment, and a live
// update changes both before any search sees either. A Retriever holds one.
//
// A catalogue opened from an index directory persists each update as one transaction of its
// item database that also logs the index change (the commit point; the in-memory index
// follows). After a crash, loading the directory replays the log, so the index and the store
// agree whenever the process stopped (index_directory.h, docs/SCALE.md "Live updates").
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "eval/item_store_backend.h"
#include "lrem/index.h"
#include "lrem/retriever.h"

namespace lrem {

class Catalogue {
 public:
  // `dir`: the index directory the two were loaded from ("" if none: updates stay in memory).
  Catalogue(std::shared_ptr<Index> index, ItemStore items, std::string dir = "");

  // The k best hits per query row (normalised vectors), best first, with their items.
  // FormatError if the index returns an id the store lacks (they were changed apart).
  std::vector<std::vector<SearchHit>> search(const float* queries, int64_t nq, int k) const;

  // Applies the changes to the store and the index together; `vectors` holds one unit-norm
  // row per Add/Update, in order. All or nothing: InvalidArgument (nothing changed) for an id
  // twice in one call, a change the store refuses, or a removal an HNSW index cannot make.
  void apply(const std::vector<ItemChange>& changes, const float* vectors);

  // Saves the index into its directory, recording the store version it holds; InvalidArgument
  // without a directory.
  void checkpoint() const;

  const Index& index() const { return *index_; }
  const ItemStore& items() const { return items_; }

 private:
  std::shared_ptr<Index> index_;
  ItemStore items_;
  std::string dir_;
  mutable std::shared_mutex mutex_;
};

}  // namespace lrem
