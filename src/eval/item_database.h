// An item catalogue in an SQLite database file: the storage of ItemStore::import_jsonl/open
// and of the catalogue saved with an index.
//
//   items(seq INTEGER PRIMARY KEY, id INTEGER UNIQUE, title, extra)   -- seq: insertion order
//   meta(key PRIMARY KEY, value)  -- catalogue_id, version, count, indexed
//   index_log(version, pos, kind, id, vector)  -- index changes not yet in the saved index
//
// catalogue_id (random, fixed at creation) names the database, so an index directory's
// meta.json can say which catalogue it was saved with. version counts committed changes.
// A catalogue saved with an index is "indexed": a change to it must reach the index too, so
// it is written together with its index_log rows (apply_logged, one transaction: the commit
// point of a live update) and plain ItemStore edits are refused. The index replays the rows
// after the version its snapshot holds (docs/SCALE.md, "Live updates").
//
// The served database runs in WAL mode with synchronous=FULL: a change is durable once
// apply_logged returns, and readers never see half of it. The page cache is bounded
// (kCacheKib), so memory does not grow with the catalogue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "eval/item_store_backend.h"

struct sqlite3;

namespace lrem {

class SqliteStatement;  // a prepared SQLite statement (item_database.cc)

class ItemDatabase : public ItemStore::Backend {
 public:
  static constexpr int kCacheKib = 16 * 1024;

  // Writes a new database at `path`, atomically (built beside it, then renamed into place):
  // `produce` calls its argument with each item and the line it came from (0 if none).
  // FormatError naming the line for a duplicate id or an item a store refuses.
  using ItemSink = std::function<void(const Item&, size_t line)>;
  // Returns the new database's catalogue_id.
  static std::string write(const std::string& path, const std::string& source, bool indexed,
                           const std::function<void(const ItemSink&)>& produce);
  static std::shared_ptr<ItemDatabase> open(const std::string& path);
  ~ItemDatabase() override;

  size_t size() const override;
  std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) const override;
  uint64_t scan(uint64_t after, size_t limit, const std::function<void(const Item&)>& each) const override;
  void apply(const std::vector<ItemChange>& changes) override;
  bool is_database() const override { return true; }

  const std::string& path() const { return path_; }
  std::string catalogue_id() const;
  int64_t version() const;
  bool indexed() const;

  // Applies `changes` and logs them for the index in one transaction, as version() + 1:
  // vectors holds one row of `dim` floats per Add/Update, in order.
  void apply_logged(const std::vector<ItemChange>& changes, const float* vectors, int dim);
  // The logged changes after `after_version`, oldest first: `each(kind, id, vector)`, with a
  // null vector for a removal. FormatError if a version in between is missing from the log.
  using LogReader = std::function<void(ItemChange::Kind kind, int64_t id, const float* vector)>;
  void replay(int64_t after_version, int dim, const LogReader& each) const;
  // Drops the log up to `version`, which a saved index now holds.
  void truncate_log(int64_t version);

 private:
  explicit ItemDatabase(std::string path);
  void apply_locked(const std::vector<ItemChange>& changes, const float* vectors, int dim, bool logged);
  int64_t meta_int(const char* key) const;

  std::string path_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;  // one connection, used by one thread at a time
  mutable std::unique_ptr<SqliteStatement> by_id_;  // find_many's, prepared on first use
};

}  // namespace lrem
