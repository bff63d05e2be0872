// The item store's workload (bench/item_store_workload.h) on LMDB, measured against lrem's
// SQLite item database (docs/SCALE.md, "Item store"). lrem itself does not use LMDB: this
// program is built only where liblmdb-dev is installed.
//
//   bench_item_store_lmdb --items N [--dir DIR] [--k 10] [--lookups 20000] [--updates 5]
//                         [--import-batch 10000] [--map-gib 64]
//
// The layout does the work the SQLite schema does (items by id, their insertion order, the
// catalogue's version, the index log), in four databases of one environment, DIR/items_N.lmdb:
//   items:     id (native 8 bytes, MDB_INTEGERKEY) -> seq (8 bytes), title size (4), title, extra
//   order:     seq (MDB_INTEGERKEY) -> id
//   meta:      "count", "version" -> 8 bytes
//   index_log: version, position (big-endian 8 + 8 bytes) -> kind (1 byte), id (8), the vector
// Like the SQLite import, the import builds the file beside its destination with no syncing,
// then syncs and renames it; it commits every --import-batch items so that LMDB's dirty pages
// stay bounded. Each lookup runs in one read transaction (reset and renewed: no allocation).
// Updates commit with LMDB's default durability (the data, then the meta page, synced).
//
// The map size (--map-gib) bounds the file: LMDB reserves that much address space when it
// opens the environment and refuses a write past it (MDB_MAP_FULL).
#include <lmdb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <utility>

#include "eval/item_store_backend.h"
#include "item_store_workload.h"
#include "lrem/error.h"
#include "util/file_io.h"

namespace {

using namespace lrem;
namespace fs = std::filesystem;

void check(int rc, const std::string& path, const char* what) {
  if (rc != MDB_SUCCESS) throw IoError("LMDB '" + path + "': " + what + ": " + mdb_strerror(rc));
}

MDB_val view(const void* data, size_t bytes) { return {bytes, const_cast<void*>(data)}; }
MDB_val view(const std::string& bytes) { return view(bytes.data(), bytes.size()); }

template <typename T>
T read_at(const MDB_val& value, size_t offset) {
  T out;
  std::memcpy(&out, static_cast<const char*>(value.mv_data) + offset, sizeof(T));
  return out;
}

template <typename T>
void append(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

std::string item_value(uint64_t seq, const Item& item) {
  std::string out;
  append(out, seq);
  append(out, uint32_t(item.title.size()));
  out += item.title;
  out += item.extra_json.empty() ? "{}" : item.extra_json;
  return out;
}

Item decode_item(int64_t id, const MDB_val& value) {
  const auto title_bytes = read_at<uint32_t>(value, 8);
  const char* p = static_cast<const char*>(value.mv_data);
  return {id, std::string(p + 12, title_bytes), std::string(p + 12 + title_bytes, value.mv_size - 12 - title_bytes)};
}

std::string log_key(int64_t version, int64_t position) {
  std::string out(16, '\0');
  for (int b = 0; b < 8; ++b) {
    out[size_t(7 - b)] = char(uint64_t(version) >> (8 * b));
    out[size_t(15 - b)] = char(uint64_t(position) >> (8 * b));
  }
  return out;
}

// An environment of one file (MDB_NOSUBDIR) and its four databases.
class Environment {
 public:
  Environment(std::string path, size_t map_bytes, unsigned flags) : path_(std::move(path)) {
    check(mdb_env_create(&env_), path_, "create");
    check(mdb_env_set_maxdbs(env_, 4), path_, "set_maxdbs");
    check(mdb_env_set_mapsize(env_, map_bytes), path_, "set_mapsize");
    const int rc = mdb_env_open(env_, path_.c_str(), flags | MDB_NOSUBDIR, 0644);
    if (rc != MDB_SUCCESS) {
      mdb_env_close(env_);
      check(rc, path_, "open");
    }
    MDB_txn* txn = nullptr;
    try {
      txn = begin(0);
      const auto open = [&](const char* name, unsigned db_flags) {
        MDB_dbi dbi = 0;
        check(mdb_dbi_open(txn, name, db_flags | MDB_CREATE, &dbi), path_, name);
        return dbi;
      };
      items = open("items", MDB_INTEGERKEY);
      order = open("order", MDB_INTEGERKEY);
      meta = open("meta", 0);
      index_log = open("index_log", 0);
      check(mdb_txn_commit(std::exchange(txn, nullptr)), path_, "commit");
    } catch (...) {
      if (txn) mdb_txn_abort(txn);
      mdb_env_close(env_);
      throw;
    }
  }
  ~Environment() { mdb_env_close(env_); }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  MDB_txn* begin(unsigned flags) const {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, flags, &txn), path_, "begin");
    return txn;
  }
  void sync() const { check(mdb_env_sync(env_, 1), path_, "sync"); }
  const std::string& path() const { return path_; }

  MDB_dbi items = 0, order = 0, meta = 0, index_log = 0;

 private:
  std::string path_;
  MDB_env* env_ = nullptr;
};

// A write transaction, aborted unless committed: every write is all-or-nothing.
class WriteTransaction {
 public:
  explicit WriteTransaction(const Environment& env) : env_(env), txn_(env.begin(0)) {}
  ~WriteTransaction() {
    if (txn_) mdb_txn_abort(txn_);
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  // MDB_KEYEXIST is the caller's; any other failure throws.
  int put(MDB_dbi dbi, MDB_val key, MDB_val value, unsigned flags = 0) {
    const int rc = mdb_put(txn_, dbi, &key, &value, flags);
    if (rc != MDB_KEYEXIST) check(rc, env_.path(), "put");
    return rc;
  }
  bool get(MDB_dbi dbi, MDB_val key, MDB_val& value) const {
    const int rc = mdb_get(txn_, dbi, &key, &value);
    if (rc != MDB_NOTFOUND) check(rc, env_.path(), "get");
    return rc == MDB_SUCCESS;
  }
  int64_t meta(const char* key) const {
    MDB_val value;
    return get(env_.meta, view(key, std::strlen(key)), value) ? read_at<int64_t>(value, 0) : 0;
  }
  void set_meta(const char* key, int64_t value) { put(env_.meta, view(key, std::strlen(key)), view(&value, 8)); }
  void commit() {
    MDB_txn* txn = txn_;
    txn_ = nullptr;
    check(mdb_txn_commit(txn), env_.path(), "commit");
  }

 private:
  const Environment& env_;
  MDB_txn* txn_;
};

class LmdbUnderTest : public bench::StorageUnderTest {
 public:
  LmdbUnderTest(std::string path, size_t map_bytes, int64_t import_batch)
      : path_(std::move(path)), map_bytes_(map_bytes), import_batch_(import_batch) {}
  ~LmdbUnderTest() override {
    if (reader_) mdb_txn_abort(reader_);
  }

  std::string name() const override { return "lmdb"; }

  void import(const std::string& jsonl) override {
    const std::string building = path_ + ".building";
    std::error_code ec;
    fs::remove(building, ec);
    {
      const Environment env(building, map_bytes_, MDB_NOSYNC);
      auto txn = std::make_unique<WriteTransaction>(env);
      uint64_t count = 0, last_id = 0;
      stream_items(jsonl, kDefaultMaxLineBytes, [&](Item&& item, size_t line) {
        const std::string where = jsonl + " line " + std::to_string(line);
        const std::string problem = item_problem(item);
        if (!problem.empty()) throw FormatError(where + ": " + problem);
        const uint64_t seq = ++count;
        const uint64_t id = uint64_t(item.id);
        // An id above every earlier one is appended: no search, and full pages (LMDB splits a
        // page in the middle otherwise). A file in id order is imported that way throughout.
        const unsigned flags = count == 1 || id > last_id ? MDB_APPEND : MDB_NOOVERWRITE;
        if (txn->put(env.items, view(&id, 8), view(item_value(seq, item)), flags) == MDB_KEYEXIST)
          throw FormatError(where + ": duplicate item id " + std::to_string(item.id));
        last_id = std::max(last_id, id);
        txn->put(env.order, view(&seq, 8), view(&id, 8), MDB_APPEND);
        if (int64_t(seq) % import_batch_ == 0) {
          txn->commit();
          txn = std::make_unique<WriteTransaction>(env);
        }
      });
      txn->set_meta("count", int64_t(count));
      txn->set_meta("version", 0);
      txn->commit();
      env.sync();
    }
    fs::remove(building + "-lock", ec);
    rename_durably(building, path_);
    env_ = std::make_unique<Environment>(path_, map_bytes_, MDB_NORDAHEAD);
  }

  std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) override {
    if (reader_)
      check(mdb_txn_renew(reader_), path_, "renew");
    else
      reader_ = env_->begin(MDB_RDONLY);
    std::vector<std::optional<Item>> out(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      uint64_t id = uint64_t(ids[i]);
      MDB_val key = view(&id, 8), value;
      const int rc = mdb_get(reader_, env_->items, &key, &value);
      if (rc == MDB_SUCCESS) out[i] = decode_item(ids[i], value);
      if (rc != MDB_NOTFOUND) check(rc, path_, "get");
    }
    mdb_txn_reset(reader_);
    return out;
  }

  void update_logged(const std::vector<Item>& items, const float* vectors, int dim) override {
    WriteTransaction txn(*env_);
    const int64_t version = txn.meta("version") + 1;
    std::string log_value;
    for (size_t i = 0; i < items.size(); ++i) {
      const uint64_t id = uint64_t(items[i].id);
      MDB_val old;
      if (!txn.get(env_->items, view(&id, 8), old))
        throw InvalidArgument("no item with id " + std::to_string(id) + " to update (nothing was changed)");
      txn.put(env_->items, view(&id, 8), view(item_value(read_at<uint64_t>(old, 0), items[i])));
      log_value.assign(1, char(ItemChange::Kind::Update));
      append(log_value, id);
      log_value.append(reinterpret_cast<const char*>(vectors + i * size_t(dim)), sizeof(float) * size_t(dim));
      txn.put(env_->index_log, view(log_key(version, int64_t(i))), view(log_value));
    }
    txn.set_meta("version", version);
    txn.commit();
  }

  int64_t file_bytes() const override { return int64_t(fs::file_size(path_)); }

 private:
  std::string path_;
  size_t map_bytes_;
  int64_t import_batch_;
  std::unique_ptr<Environment> env_;
  MDB_txn* reader_ = nullptr;  // find_many's read transaction, reset between lookups
};

}  // namespace

int main(int argc, char** argv) {
  return bench::run_item_store_bench(
      "bench_item_store_lmdb", argc, argv, {"import-batch", "map-gib"},
      [](const bench::Args& args, const std::string& stem) {
        return std::make_unique<LmdbUnderTest>(stem + ".lmdb", size_t(args.integer("map-gib", 64)) << 30,
                                               args.integer("import-batch", 10000));
      });
}
