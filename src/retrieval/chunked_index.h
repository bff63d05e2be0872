// The index of a catalogue encoded in chunks (retrieval/chunked_encoding.h), built by all
// ranks together:
//   1. rank 0 trains the IVF coarse quantizer and PQ/SQ codebooks (if the factory needs
//      training) on a sample of the vectors spread over every chunk, and writes the trained
//      empty index to <work_dir>/trained;
//   2. every rank reads it and adds the vectors of its share of the chunks (the same
//      contiguous runs as the encoding) to its copy, written to <work_dir>/shard-<rank>;
//   3. rank 0 merges the shards in rank order into the index directory `output`, with the
//      catalogue imported from items.jsonl. An IVF index (Flat, PQ or SQ codes) is merged
//      streaming from the shard files (retrieval/shard_merge.h): rank 0 then never holds the
//      merged index, nor even its own shard, which it saves like the others. Other mergeable
//      types (Flat) are merged in memory (Index::merge_from, FAISS's merge_from).
// Adding in rank order of contiguous chunks puts every inverted list's entries in the order a
// single process would add them, so N ranks build the same index as one. Index types FAISS
// cannot merge (HNSW) are built by rank 0 alone, streaming the chunks.
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
  bool quiet = true;
};

// Called by every rank; rank 0 writes the index directory (fingerprinted with the encoding's
// model; Index::save(output, items_path)) and returns the number of vectors in it, the others
// return 0. InvalidArgument for a bad factory or too small a sample for it.
int64_t build_index_from_chunks(const EmbeddingChunks& chunks, DataParallel& dp, const ChunkedIndexOptions& options);

}  // namespace lrem
