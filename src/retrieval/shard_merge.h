// Merging the shards of a distributed IVF build (retrieval/chunked_index.h) into one index
// directory without holding the merged index: the result's index.faiss is written list by
// list, each inverted list being the shards' lists one after the other, read from the shard
// files in blocks, with the ids renumbered as Index::merge_from renumbers them. The file is
// byte for byte the one Index::merge_from of the loaded shards followed by Index::save would
// write, so Index::load reads it, in memory or mapped, like any other. Memory: one block, the
// trained (empty) index, and a list's size and offset (16 bytes) per list and shard; the
// shards' codes and id maps stay on disk (in the page cache, which the kernel may evict).
// Every shard's file stays open during the merge.
#pragma once

#include <string>
#include <vector>

namespace lrem {

// True if the index saved in `trained_dir` is an IVF whose merge can be streamed: IVF-Flat,
// IVF-PQ or IVF-SQ directly under the id map (no pre-transform or refinement around it).
// Other mergeable types are merged in memory by Index::merge_from.
bool shard_merge_streams(const std::string& trained_dir);

// LimitExceeded, saying to raise `ulimit -n` or to build fewer shards, unless this process may
// open `shards` files besides a margin for its others: save_merged_shards holds one per shard.
void require_open_files_for_merge(size_t shards);

// Writes the index directory `dir` holding every vector of `shard_dirs` in their order, with
// the catalogue imported, streaming, from the JSON Lines file `items_path` (Index::save(dir,
// items_path)). Each shard is an Index::save of a copy of the index in `trained_dir` with
// vectors added, and `shard_merge_streams(trained_dir)` must hold. Crash-safe as every save
// (retrieval/index_directory.h). LimitExceeded as require_open_files_for_merge. FormatError if
// a shard is not a copy of the trained index (dim, factory, model fingerprint, lists, code
// size) or fails its checksum. An id in two shards is refused by the catalogue import (the
// item database's unique id), before the commit.
void save_merged_shards(const std::string& trained_dir, const std::vector<std::string>& shard_dirs,
                        const std::string& dir, const std::string& items_path);

}  // namespace lrem
