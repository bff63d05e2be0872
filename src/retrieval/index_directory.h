// An index directory: index.faiss, optionally the catalogue items.jsonl, and meta.json, which
// commits them together. A save stages each file under its content's name
// (<name>.<sha256>), then replaces meta.json, which records both digests: that rename is the
// commit point. Only then are the staged files renamed into place. A crash before the commit
// leaves the previous unit whole; a crash after it leaves meta.json naming staged files that
// load finds by their digest. A reader never pairs an index with another save's catalogue.
#pragma once

#include <string>
#include <string_view>

#include "lrem/dataset.h"
#include "retrieval/index_meta.h"

namespace lrem::index_directory {

constexpr const char* kIndexFile = "index.faiss";
constexpr const char* kItemsFile = "items.jsonl";
constexpr const char* kMetaFile = "meta.json";

// True if `dir` holds a saved index (its meta.json exists).
bool holds_index(const std::string& dir);

// Writes <dir>/<name>.<sha256 of bytes> durably and returns the digest.
std::string stage(const std::string& dir, const char* name, std::string_view bytes);
// Stages the catalogue as items.jsonl.<sha256>; returns the digest.
std::string stage_items(const std::string& dir, const ItemStore& items);
// Stages a copy of the JSON Lines file at `items_path` as the catalogue, streaming (it is
// never held in memory whole); returns the digest.
std::string stage_items_file(const std::string& dir, const std::string& items_path);
// Replaces meta.json (the commit), renames the staged files it names into place and removes
// what earlier saves that crashed left staged.
void commit(const std::string& dir, const IndexMeta& meta);

// meta.json of `dir`, parsed and checked (index_meta.h).
IndexMeta read_meta(const std::string& dir, int supported_version);
// The file <dir>/<name> whose SHA-256 meta.json records in `field` (`digest`): the file
// itself or, after a save that committed but did not rename, its staged copy. IoError if
// neither exists, FormatError saying what to do if neither matches.
struct CommittedFile {
  std::string path;   // where the bytes were read from
  std::string bytes;  // verified against the digest
};
CommittedFile read_committed(const std::string& dir, const char* name, const std::string& digest, const char* field);
// The same check, streaming (the file is never held in memory), for a file that is then
// memory-mapped; returns the verified path.
std::string verify_committed(const std::string& dir, const char* name, const std::string& digest, const char* field);

}  // namespace lrem::index_directory
