#include "retrieval/index_directory.h"

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "util/file_io.h"
#include "util/sha256.h"
#include "eval/item_database.h"
#include "eval/item_store_backend.h"

namespace lrem::index_directory {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxMetaBytes = size_t(1) << 20;

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }
// The digest was checked to be 64 hex digits (IndexMeta::parse), so this stays inside `dir`.
std::string staged_path(const std::string& dir, const char* name, const std::string& digest) {
  return join(dir, std::string(name) + "." + digest);
}

// Renames the staged file into place unless an earlier commit already did.
void install(const std::string& dir, const char* name, const std::string& digest) {
  const std::string staged = staged_path(dir, name, digest);
  if (!fs::exists(staged)) return;
  // The database being replaced may have left its write-ahead log beside it: it must not be
  // read as the new database's.
  std::error_code ec;
  if (std::string(name) == kItemsFile)
    for (const char* side : {"-wal", "-shm"}) fs::remove(join(dir, std::string(kItemsFile) + side), ec);
  rename_durably(staged, join(dir, name));
}

// The database the ItemStore is backed by, if it is a database.
ItemDatabase* database_of(const ItemStore& items) {
  return dynamic_cast<ItemDatabase*>(&ItemStoreAccess::backend(items));
}

}  // namespace

bool holds_index(const std::string& dir) { return fs::exists(join(dir, kMetaFile)); }

std::string stage(const std::string& dir, const char* name, const std::function<void(const ByteSink&)>& produce) {
  const std::string unnamed = join(dir, std::string(name) + ".new");
  Sha256 hash;
  write_file_atomic(unnamed, [&](std::FILE* f) {
    produce([&](const void* data, size_t n) {
      write_all(f, data, n, unnamed);
      hash.update(data, n);
    });
  });
  std::string digest = hash.finish_hex();
  // Named by content: a later save never overwrites a staged file that the current
  // meta.json still points to.
  rename_durably(unnamed, staged_path(dir, name, digest));
  return digest;
}

namespace {

// Writes a new catalogue database from `produce` and stages it under a fresh catalogue id: a
// later save never overwrites a staged database that the current meta.json still points to.
void stage_new_catalogue(const std::string& dir, const std::string& source,
                         const std::function<void(const ItemDatabase::ItemSink&)>& produce, IndexMeta& meta) {
  const std::string unnamed = join(dir, std::string(kItemsFile) + ".new");
  meta.catalogue_id = ItemDatabase::write(unnamed, source, /*indexed=*/true, produce);
  meta.catalogue_version = 0;
  rename_durably(unnamed, staged_path(dir, kItemsFile, meta.catalogue_id));
}

}  // namespace

void stage_items(const std::string& dir, const ItemStore& items, IndexMeta& meta) {
  const std::string committed = join(dir, kItemsFile);
  const ItemDatabase* own = database_of(items);
  std::error_code ec;
  if (own && fs::equivalent(own->path(), committed, ec)) {
    meta.catalogue_id = own->catalogue_id();
    meta.catalogue_version = own->version();
    return;
  }
  stage_new_catalogue(dir, "catalogue", [&](const ItemDatabase::ItemSink& sink) {
    items.for_each([&](const Item& item) { sink(item, 0); });
  }, meta);
}

void stage_items_file(const std::string& dir, const std::string& items_path, IndexMeta& meta) {
  stage_new_catalogue(dir, items_path, [&](const ItemDatabase::ItemSink& sink) {
    stream_items(items_path, kDefaultMaxLineBytes, [&](Item&& item, size_t line) { sink(item, line); });
  }, meta);
}

void commit(const std::string& dir, const IndexMeta& meta) {
  write_file_atomic(join(dir, kMetaFile), meta.to_json());
  install(dir, kIndexFile, meta.index_sha256);
  if (!meta.catalogue_id.empty()) install(dir, kItemsFile, meta.catalogue_id);
  // Staged files of saves that crashed are superseded now; removing them is tidying only.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const char* file : {kIndexFile, kItemsFile})
      if (name.rfind(std::string(file) + ".", 0) == 0) fs::remove(entry.path(), ec);
  }
  // The index now holds the catalogue's changes up to its version: their log is replayed no more.
  if (meta.catalogue_version > 0) {
    ItemStore items = open_items(dir, meta);
    database_of(items)->truncate_log(meta.catalogue_version);
  }
}

IndexMeta read_meta(const std::string& dir, int supported_version) {
  const std::string path = join(dir, kMetaFile);
  return IndexMeta::parse(read_file(path, kMaxMetaBytes), path, supported_version);
}

namespace {

// <dir>/<name> or, after a save that committed but did not rename, its staged copy: the first
// for which `matches` holds (it reads and checks the digest); IoError if neither exists,
// FormatError saying what to do if neither matches.
std::string find_committed(const std::string& dir, const char* name, const std::string& digest, const char* field,
                           const std::function<bool(const std::string&)>& matches) {
  const std::string path = join(dir, name);
  const bool exists = fs::exists(path);
  if (exists && matches(path)) return path;
  const std::string staged = staged_path(dir, name, digest);
  if (fs::exists(staged) && matches(staged)) return staged;
  if (!exists) throw IoError("'" + path + "' is missing; rebuild or restore the index directory");
  throw FormatError("'" + path + "' does not match the " + field + " recorded in '" + join(dir, kMetaFile) +
                    "' (corrupt, truncated, edited or from another save); rebuild the index directory "
                    "(`lrem index build --overwrite`) or restore it from a backup");
}

}  // namespace

CommittedFile read_committed(const std::string& dir, const char* name, const std::string& digest, const char* field) {
  CommittedFile file;
  file.path = find_committed(dir, name, digest, field, [&](const std::string& path) {
    file.bytes = read_file(path);
    return sha256_hex(file.bytes) == digest;
  });
  return file;
}

std::string verify_committed(const std::string& dir, const char* name, const std::string& digest, const char* field) {
  return find_committed(dir, name, digest, field,
                        [&](const std::string& path) { return sha256_file_hex(path) == digest; });
}

ItemStore open_items(const std::string& dir, const IndexMeta& meta) {
  const std::string meta_path = join(dir, kMetaFile);
  if (meta.catalogue_id.empty())
    throw FormatError("'" + meta_path + "' records no catalogue: the index was saved without its items (Index::save); "
                      "save both with save_index, or give the items file explicitly");
  install(dir, kItemsFile, meta.catalogue_id);  // a crash after the commit left it staged
  const std::string path = join(dir, kItemsFile);
  if (!fs::exists(path)) throw IoError("'" + path + "' is missing; rebuild or restore the index directory");
  std::shared_ptr<ItemDatabase> database = ItemDatabase::open(path);
  const std::string found = database->catalogue_id();
  if (found != meta.catalogue_id)
    throw FormatError("'" + path + "' is catalogue " + found + " but '" + meta_path + "' records catalogue_id " +
                      meta.catalogue_id + " (replaced, or from another save); rebuild the index directory "
                      "(`lrem index build --overwrite`) or restore it from a backup");
  if (database->version() < meta.catalogue_version)
    throw FormatError("'" + path + "' is at version " + std::to_string(database->version()) + " but the index in '" +
                      dir + "' holds its version " + std::to_string(meta.catalogue_version) +
                      " (an older copy of the database); restore the matching database or rebuild the index directory");
  return ItemStoreAccess::wrap(std::move(database));
}

void replay_updates(const std::string& dir, const IndexMeta& meta, Index& index, bool read_only) {
  if (meta.catalogue_id.empty()) return;
  const ItemStore items = open_items(dir, meta);
  const ItemDatabase& database = *database_of(items);
  database.replay(meta.catalogue_version, index.dim(), [&](ItemChange::Kind kind, int64_t id, const float* vector) {
    if (read_only)
      throw InvalidArgument("index directory '" + dir + "' has live updates after its saved index (catalogue version " +
                            std::to_string(database.version()) + ", index at " +
                            std::to_string(meta.catalogue_version) + "), which a memory-mapped index cannot apply; "
                            "run `lrem index checkpoint` on it first, or open it without mmap");
    if (kind != ItemChange::Kind::Add) index.remove(&id, 1);
    if (vector) index.add(vector, &id, 1, /*normalized=*/true);
  });
  if (index.size() != int64_t(items.size()))
    throw FormatError("index directory '" + dir + "': the index holds " + std::to_string(index.size()) +
                      " vectors but its catalogue " + std::to_string(items.size()) +
                      " items; rebuild the index directory (`lrem index build --overwrite`)");
}

}  // namespace lrem::index_directory

namespace lrem {

ItemStore load_index_items(const std::string& index_dir) {
  using namespace index_directory;
  return open_items(index_dir, read_meta(index_dir, Index::kFormatVersion));
}

}  // namespace lrem
