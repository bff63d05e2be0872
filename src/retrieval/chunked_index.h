// The index of a catalogue encoded in chunks (retrieval/chunked_encoding.h), built by all
// ranks together:
//   1. rank 0 trains the IVF coarse quantizer and PQ/SQ codebooks (if the factory needs
//      training) on a sample of the vectors spread over every chunk, and writes the trained
//      empty index to <work_dir>/trained;
//   2. every rank adds the vectors of its share of the chunks (the same contiguous runs as the
//      encoding) to copies of it. For an IVF index whose merge streams (Flat, PQ or SQ codes,
//      no pre-transform: shard_merge_streams) the share is cut into sub-shards of whole chunks
//      holding at most `shard_vectors` vectors: each is added to a fresh copy, saved to
//      <work_dir>/shard-<rank>-<k> and freed before the next, so a rank's memory does not grow
//      with the catalogue. Other mergeable types (Flat) are added to one copy per rank, saved
//      to <work_dir>/shard-<rank> (rank 0 keeps its own);
//   3. rank 0 merges them in chunk order into the index directory `output`, with the catalogue
//      imported from items.jsonl: the IVF sub-shards streaming from their files
//      (retrieval/shard_merge.h), so rank 0 holds neither the merged index nor any shard;
//      the others in memory (Index::merge_from, FAISS's merge_from).
// Adding in chunk order puts every inverted list's entries in the order a single process would
// add them, so N ranks and any sub-shard size build the same index file as one process. Index
// types FAISS cannot merge (HNSW) are built by rank 0 alone, streaming the chunks.
// A rerun retrains and rewrites every shard: what a killed run left is never merged.
#pragma once

#include <cstdint>
#include <string>

#include "lrem/index.h"
#include "model/distributed.h"
#include "retrieval/chunked_encoding.h"

namespace lrem {

struct ChunkedIndexOptions {
  std::string factory = "Flat";
  std::string work_dir;         // where the trained index and the shards go (required)
  std::string output;           // the index directory rank 0 writes (required)
  std::string items_path;       // items.jsonl, the catalogue saved with the index (required)
  int64_t train_size = 100000;  // vectors in the training sample (at most every vector)
  int ef_construction = 0;      // HNSW only; 0: FAISS's default
  // IVF only: vectors a rank holds in memory before saving them as a sub-shard (whole chunks;
  // a larger chunk is a sub-shard alone). About 130 bytes each while added, so the default
  // costs a rank 30-40 MB; the merge keeps one file open per sub-shard (76.63M vectors: about
  // 300). docs/SCALE.md has the measurements.
  int64_t shard_vectors = int64_t(1) << 18;
  bool quiet = true;
};

// Called by every rank; rank 0 writes the index directory (fingerprinted with the encoding's
// model; Index::save(output, items_path)) and returns the number of vectors in it, the others
// return 0. InvalidArgument for a bad factory, too small a sample for it or a non-positive
// shard_vectors; LimitExceeded, before any vector is added, if the merge could not open every
// sub-shard at once (require_open_files_for_merge).
int64_t build_index_from_chunks(const EmbeddingChunks& chunks, DataParallel& dp, const ChunkedIndexOptions& options);

}  // namespace lrem
