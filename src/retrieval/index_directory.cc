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
  if (fs::exists(staged)) rename_durably(staged, join(dir, name));
}

}  // namespace

bool holds_index(const std::string& dir) { return fs::exists(join(dir, kMetaFile)); }

std::string stage(const std::string& dir, const char* name, std::string_view bytes) {
  std::string digest = sha256_hex(bytes);
  // Named by content: a later save never overwrites a staged file that the current
  // meta.json still points to.
  write_file_atomic(staged_path(dir, name, digest), bytes);
  return digest;
}

std::string stage_items(const std::string& dir, const ItemStore& items) {
  const std::string unnamed = join(dir, std::string(kItemsFile) + ".new");
  items.save(unnamed);
  std::string digest = sha256_hex(read_file(unnamed));
  rename_durably(unnamed, staged_path(dir, kItemsFile, digest));
  return digest;
}

std::string stage_items_file(const std::string& dir, const std::string& items_path) {
  std::FILE* in = std::fopen(items_path.c_str(), "rb");
  if (!in) throw IoError("cannot open '" + items_path + "'");
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> close_in(in, &std::fclose);
  const std::string unnamed = join(dir, std::string(kItemsFile) + ".new");
  Sha256 digest;
  write_file_atomic(unnamed, [&](std::FILE* out) {
    std::vector<char> buf(size_t(1) << 20);
    while (const size_t n = std::fread(buf.data(), 1, buf.size(), in)) {
      digest.update(buf.data(), n);
      write_all(out, buf.data(), n, unnamed);
    }
    if (std::ferror(in)) throw IoError("cannot read '" + items_path + "'");
  });
  const std::string hex = digest.finish_hex();
  rename_durably(unnamed, staged_path(dir, kItemsFile, hex));
  return hex;
}

void commit(const std::string& dir, const IndexMeta& meta) {
  write_file_atomic(join(dir, kMetaFile), meta.to_json());
  install(dir, kIndexFile, meta.index_sha256);
  if (!meta.items_sha256.empty()) install(dir, kItemsFile, meta.items_sha256);
  // Staged files of saves that crashed are superseded now; removing them is tidying only.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const char* file : {kIndexFile, kItemsFile})
      if (name.rfind(std::string(file) + ".", 0) == 0) fs::remove(entry.path(), ec);
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

}  // namespace lrem::index_directory

namespace lrem {

ItemStore load_index_items(const std::string& index_dir) {
  using namespace index_directory;
  const IndexMeta meta = read_meta(index_dir, Index::kFormatVersion);
  if (meta.items_sha256.empty())
    throw FormatError("'" + index_dir + "/" + kMetaFile + "' records no catalogue: the index was saved without its "
                      "items (Index::save); save both with save_index, or give the items file explicitly");
  const CommittedFile items = read_committed(index_dir, kItemsFile, meta.items_sha256, "items_sha256");
  return ItemStore(parse_items(items.bytes, items.path));
}

}  // namespace lrem
