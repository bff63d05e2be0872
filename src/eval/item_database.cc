#include "eval/item_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "lrem/error.h"
#include "util/file_io.h"

namespace lrem {

namespace {

namespace fs = std::filesystem;

constexpr const char* kSchema =
    "CREATE TABLE items(seq INTEGER PRIMARY KEY, id INTEGER NOT NULL UNIQUE, title TEXT NOT NULL, extra TEXT NOT NULL);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE index_log(version INTEGER NOT NULL, pos INTEGER NOT NULL, kind INTEGER NOT NULL, id INTEGER NOT NULL,"
    " vector BLOB,"
    " PRIMARY KEY(version, pos)) WITHOUT ROWID;";

std::string random_catalogue_id() {
  std::random_device rd;
  char out[33];
  for (int i = 0; i < 4; ++i) std::snprintf(out + 8 * i, 9, "%08x", unsigned(rd()));
  return out;
}

}  // namespace

// One prepared statement, reset for every use.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const char* sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~SqliteStatement() { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  SqliteStatement& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT));
  }
  SqliteStatement& bind_blob(int i, const void* data, size_t bytes) {
    return check(data ? sqlite3_bind_blob(stmt_, i, data, int(bytes), SQLITE_TRANSIENT) : sqlite3_bind_null(stmt_, i));
  }
  // True while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail("step");
    return false;
  }
  // Runs a statement that returns no row; the SQLite result code (SQLITE_CONSTRAINT is the caller's).
  int run() {
    const int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return rc;
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  const void* blob(int col) const { return sqlite3_column_blob(stmt_, col); }
  size_t blob_bytes(int col) const { return size_t(sqlite3_column_bytes(stmt_, col)); }

  [[noreturn]] void fail(const char* what) const {
    throw IoError("item database '" + path_ + "': " + what + " failed: " + sqlite3_errmsg(db_));
  }

 private:
  SqliteStatement& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_ = nullptr;
};

namespace {

void exec(sqlite3* db, const std::string& sql, const std::string& path) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw IoError("item database '" + path + "': " + message);
  }
}

sqlite3* open_connection(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw IoError("cannot open item database '" + path + "': " + message);
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

void set_meta(sqlite3* db, const std::string& path, const char* key, int64_t value) {
  SqliteStatement(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", path).bind(1, key).bind(2, value).run();
}

// Rolls back unless committed: every write is all-or-nothing.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) { exec(db, "BEGIN IMMEDIATE", path); }
  ~Transaction() {
    if (db_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, "COMMIT", path_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_;
  std::string path_;
};

void fsync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    throw IoError("cannot sync '" + path + "'");
  }
  ::close(fd);
}

}  // namespace

std::string ItemDatabase::write(const std::string& path, const std::string& source, bool indexed,
                         const std::function<void(const ItemSink&)>& produce) {
  // Built beside its destination: until the rename, nothing names it, so a crash leaves
  // clutter only, and neither a journal nor syncing is needed while it fills.
  const std::string building = path + ".building";
  const std::string catalogue_id = random_catalogue_id();
  std::error_code ec;
  fs::remove(building, ec);
  sqlite3* db = open_connection(building, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  try {
    exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-" + std::to_string(kCacheKib) + ";",
         building);
    exec(db, kSchema, building);
    exec(db, "BEGIN", building);
    SqliteStatement insert(db, "INSERT INTO items(id, title, extra) VALUES(?, ?, ?)", building);
    SqliteStatement first(db, "SELECT seq FROM items WHERE id = ?", building);
    int64_t count = 0;
    produce([&](const Item& item, size_t line) {
      const std::string where = source + (line ? " line " + std::to_string(line) : std::string());
      const std::string problem = item_problem(item);
      if (!problem.empty()) throw FormatError(where + ": " + problem);
      insert.bind(1, item.id).bind(2, item.title).bind(3, item.extra_json.empty() ? "{}" : item.extra_json);
      const int rc = insert.run();
      if (rc == SQLITE_CONSTRAINT) {
        first.bind(1, item.id);
        const int64_t seq = first.step() ? first.integer(0) : 0;
        first.reset();
        throw FormatError(where + ": duplicate item id " + std::to_string(item.id) + " (item " + std::to_string(seq) +
                          " of the catalogue has it already)");
      }
      if (rc != SQLITE_DONE) insert.fail("insert");
      ++count;
    });
    set_meta(db, building, "count", count);
    set_meta(db, building, "version", 0);
    set_meta(db, building, "indexed", indexed ? 1 : 0);
    SqliteStatement(db, "INSERT INTO meta(key, value) VALUES('catalogue_id', ?)", building).bind(1, catalogue_id).run();
    exec(db, "COMMIT", building);
  } catch (...) {
    sqlite3_close(db);
    fs::remove(building, ec);
    throw;
  }
  sqlite3_close(db);
  fsync_file(building);
  rename_durably(building, path);
  return catalogue_id;
}

ItemDatabase::ItemDatabase(std::string path) : path_(std::move(path)) {}

std::shared_ptr<ItemDatabase> ItemDatabase::open(const std::string& path) {
  if (!fs::exists(path)) throw IoError("item database '" + path + "' does not exist");
  std::shared_ptr<ItemDatabase> out(new ItemDatabase(path));
  out->db_ = open_connection(path, SQLITE_OPEN_READWRITE);
  exec(out->db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-" + std::to_string(kCacheKib) + ";",
       path);
  try {
    out->catalogue_id();
  } catch (const IoError& e) {
    throw FormatError("'" + path + "' is not an lrem item database (" + e.what() +
                      "); make one with ItemStore::import_jsonl or `lrem index build`");
  }
  return out;
}

ItemDatabase::~ItemDatabase() {
  by_id_.reset();
  sqlite3_close(db_);
}

int64_t ItemDatabase::meta_int(const char* key) const {
  SqliteStatement select(db_, "SELECT value FROM meta WHERE key = ?", path_);
  select.bind(1, key);
  if (!select.step()) throw FormatError("item database '" + path_ + "' has no " + key + " in its meta table");
  return select.integer(0);
}

size_t ItemDatabase::size() const {
  std::lock_guard lock(mutex_);
  return size_t(meta_int("count"));
}

int64_t ItemDatabase::version() const {
  std::lock_guard lock(mutex_);
  return meta_int("version");
}

bool ItemDatabase::indexed() const {
  std::lock_guard lock(mutex_);
  return meta_int("indexed") != 0;
}

std::string ItemDatabase::catalogue_id() const {
  std::lock_guard lock(mutex_);
  SqliteStatement select(db_, "SELECT value FROM meta WHERE key = 'catalogue_id'", path_);
  if (!select.step()) throw FormatError("item database '" + path_ + "' has no catalogue_id");
  return select.text(0);
}

std::vector<std::optional<Item>> ItemDatabase::find_many(const std::vector<int64_t>& ids) const {
  std::lock_guard lock(mutex_);
  // Prepared once: preparing costs more than a lookup by the primary key.
  if (!by_id_) by_id_ = std::make_unique<SqliteStatement>(db_, "SELECT title, extra FROM items WHERE id = ?", path_);
  SqliteStatement& select = *by_id_;
  std::vector<std::optional<Item>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    select.bind(1, ids[i]);
    if (select.step()) out[i] = Item{ids[i], select.text(0), select.text(1)};
    select.reset();
  }
  return out;
}

uint64_t ItemDatabase::scan(uint64_t after, size_t limit, const std::function<void(const Item&)>& each) const {
  std::vector<Item> page;
  uint64_t last = 0;
  {
    std::lock_guard lock(mutex_);
    SqliteStatement select(db_, "SELECT seq, id, title, extra FROM items WHERE seq > ? ORDER BY seq LIMIT ?", path_);
    select.bind(1, int64_t(after)).bind(2, int64_t(limit));
    while (select.step()) {
      last = uint64_t(select.integer(0));
      page.push_back({select.integer(1), select.text(2), select.text(3)});
    }
  }
  for (const Item& item : page) each(item);
  return page.size() < limit ? 0 : last;
}

void ItemDatabase::apply(const std::vector<ItemChange>& changes) {
  std::lock_guard lock(mutex_);
  if (meta_int("indexed"))
    throw InvalidArgument("item database '" + path_ + "' is the catalogue of a saved index: change it through the "
                          "index's Retriever (add_items, update_items, remove_items), `lrem index add|update|remove` "
                          "or the server's admin route, so the index follows");
  apply_locked(changes, nullptr, 0, false);
}

void ItemDatabase::apply_logged(const std::vector<ItemChange>& changes, const float* vectors, int dim) {
  std::lock_guard lock(mutex_);
  apply_locked(changes, vectors, dim, true);
}

void ItemDatabase::apply_locked(const std::vector<ItemChange>& changes, const float* vectors, int dim, bool logged) {
  if (changes.empty()) return;
  Transaction transaction(db_, path_);
  SqliteStatement insert(db_, "INSERT INTO items(id, title, extra) VALUES(?, ?, ?)", path_);
  SqliteStatement update(db_, "UPDATE items SET title = ?, extra = ? WHERE id = ?", path_);
  SqliteStatement remove(db_, "DELETE FROM items WHERE id = ?", path_);
  SqliteStatement log(db_, "INSERT INTO index_log(version, pos, kind, id, vector) VALUES(?, ?, ?, ?, ?)", path_);
  const int64_t version = meta_int("version") + 1;
  int64_t count = meta_int("count");
  const float* vector = vectors;
  for (size_t i = 0; i < changes.size(); ++i) {
    const ItemChange& change = changes[i];
    const int64_t id = change.item.id;
    const auto refuse = [&](const std::string& why) {
      throw InvalidArgument("item change " + std::to_string(i + 1) + " of " + std::to_string(changes.size()) + ": " +
                            why + " (nothing was changed)");
    };
    if (change.kind != ItemChange::Kind::Remove) {
      const std::string problem = item_problem(change.item);
      if (!problem.empty()) refuse(problem);
    }
    const std::string extra = change.item.extra_json.empty() ? "{}" : change.item.extra_json;
    switch (change.kind) {
      case ItemChange::Kind::Add: {
        const int rc = insert.bind(1, id).bind(2, change.item.title).bind(3, extra).run();
        if (rc == SQLITE_CONSTRAINT) refuse("item id " + std::to_string(id) + " is already present");
        if (rc != SQLITE_DONE) insert.fail("insert");
        ++count;
        break;
      }
      case ItemChange::Kind::Update:
        if (update.bind(1, change.item.title).bind(2, extra).bind(3, id).run() != SQLITE_DONE) update.fail("update");
        if (sqlite3_changes(db_) == 0) refuse("no item with id " + std::to_string(id) + " to update");
        break;
      case ItemChange::Kind::Remove:
        if (remove.bind(1, id).run() != SQLITE_DONE) remove.fail("delete");
        if (sqlite3_changes(db_) == 0) refuse("no item with id " + std::to_string(id) + " to remove");
        --count;
        break;
    }
    if (logged) {
      const float* row = change.kind == ItemChange::Kind::Remove ? nullptr : vector;
      if (row) vector += dim;
      log.bind(1, version).bind(2, int64_t(i)).bind(3, int64_t(change.kind)).bind(4, id);
      log.bind_blob(5, row, sizeof(float) * size_t(dim));
      if (log.run() != SQLITE_DONE) log.fail("log");
    }
  }
  set_meta(db_, path_, "count", count);
  set_meta(db_, path_, "version", version);
  transaction.commit();
}

void ItemDatabase::replay(int64_t after_version, int dim, const LogReader& each) const {
  std::lock_guard lock(mutex_);
  const int64_t current = meta_int("version");
  SqliteStatement select(db_, "SELECT version, kind, id, vector FROM index_log WHERE version > ? ORDER BY version, pos", path_);
  select.bind(1, after_version);
  // Every version after the snapshot's is one logged change, so the log must hold each.
  int64_t last = after_version;
  const auto lacks = [&](int64_t version) {
    throw FormatError("item database '" + path_ + "': the index log lacks version " + std::to_string(version) +
                      " of the catalogue; rebuild the index directory (`lrem index build --overwrite`)");
  };
  std::vector<float> row(static_cast<size_t>(dim));
  while (select.step()) {
    const int64_t version = select.integer(0);
    if (version > last + 1) lacks(last + 1);
    last = version;
    const auto kind = ItemChange::Kind(select.integer(1));
    const int64_t id = select.integer(2);
    const void* blob = select.blob(3);
    if ((kind == ItemChange::Kind::Remove) != (blob == nullptr) ||
        (blob && select.blob_bytes(3) != row.size() * sizeof(float)))
      throw FormatError("item database '" + path_ + "': the logged change of item " + std::to_string(id) +
                        " does not carry one " + std::to_string(dim) + "-float vector per added or updated item");
    if (blob) std::memcpy(row.data(), blob, row.size() * sizeof(float));
    each(kind, id, blob ? row.data() : nullptr);
  }
  if (last < current) lacks(last + 1);
}

void ItemDatabase::truncate_log(int64_t version) {
  std::lock_guard lock(mutex_);
  SqliteStatement(db_, "DELETE FROM index_log WHERE version <= ?", path_).bind(1, version).run();
}

}  // namespace lrem
