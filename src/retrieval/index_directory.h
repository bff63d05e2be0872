// An index directory: index.faiss, optionally the catalogue items.sqlite (an item database,
// eval/item_database.h), and meta.json, which commits them together. A save stages each file
// under a name only it has (index.faiss.<sha256>, items.sqlite.<catalogue_id>), then replaces
// meta.json, which records the digest and the catalogue id: that rename is the commit point.
// Only then are the staged files renamed into place. A crash before the commit leaves the
// previous unit whole; a crash after it leaves meta.json naming staged files that a reader
// finds by their name and rolls forward. A reader never pairs an index with another save's
// catalogue.
//
// Live updates change the catalogue in place: each is one database transaction that also
// logs the index change (the commit point); index.faiss holds catalogue_version, and loading
// it replays the log after that version. Saving the index again into its own directory
// (a checkpoint) records the database's current version and then drops the replayed log.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "lrem/dataset.h"
#include "lrem/index.h"
#include "retrieval/index_meta.h"

namespace lrem::index_directory {

constexpr const char* kIndexFile = "index.faiss";
constexpr const char* kItemsFile = "items.sqlite";
constexpr const char* kMetaFile = "meta.json";

// True if `dir` holds a saved index (its meta.json exists).
bool holds_index(const std::string& dir);

// Receives a file's bytes, in order.
using ByteSink = std::function<void(const void* data, size_t n)>;
// Writes <dir>/<name>.<sha256 of the bytes> durably from what `produce` passes to its sink and
// returns the digest. The bytes are hashed as they are written, never held in memory whole:
// they go to <dir>/<name>.new (atomically, util/file_io.h), which is then renamed to the
// digest's name. If `produce` throws, nothing is staged.
std::string stage(const std::string& dir, const char* name, const std::function<void(const ByteSink&)>& produce);
// Stages the catalogue as items.sqlite.<catalogue_id> and sets meta's catalogue_id and
// catalogue_version, unless `items` is this directory's own database (a checkpoint): then only
// its id and current version are recorded.
void stage_items(const std::string& dir, const ItemStore& items, IndexMeta& meta);
// The same for the JSON Lines file at `items_path`, streamed into the database (it is never
// held in memory whole).
void stage_items_file(const std::string& dir, const std::string& items_path, IndexMeta& meta);
// Replaces meta.json (the commit), renames the staged files it names into place and removes
// what earlier saves that crashed left staged; after a checkpoint, drops the log it holds.
void commit(const std::string& dir, const IndexMeta& meta);

// The catalogue meta.json names, opened (a committed staged database is rolled forward).
// FormatError saying what to do if the database is another save's or older than the index.
ItemStore open_items(const std::string& dir, const IndexMeta& meta);
// Applies the catalogue's logged changes after meta.catalogue_version to `index`, loaded
// from index.faiss; FormatError if the index and the catalogue then hold different counts.
// InvalidArgument, saying to checkpoint, if `read_only` (a mapped index) and there are any.
void replay_updates(const std::string& dir, const IndexMeta& meta, Index& index, bool read_only);

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
