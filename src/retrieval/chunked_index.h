// The index of a catalogue encoded in chunks (retrieval/chunked_encoding.h), built by all
// ranks together:
//   1. rank 0 trains the IVF coarse quantizer and PQ/SQ codebooks (if the factory needs
//      training) on a sample of the vectors spread over every chunk, and writes the trained
//      empty index to <work_dir>/trained;
//   2. every rank reads it and adds the vectors of its share of the chunks (the same
//      contiguous runs as the encoding) to its copy, written to <work_dir>/shard-<rank>;
//   3. rank 0 merges the shards in rank order (Index::merge_from, FAISS's merge_from).
// Adding in rank order of contiguous chunks puts every inverted list's entries in the order a
// single process would add them, so N ranks build the same index as one. Index types FAISS
// cannot merge (HNSW) are built by rank 0 alone, streaming the chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lrem/index.h"
#include "model/distributed.h"
#include "retrieval/chunked_encoding.h"

namespace lrem {

struct ChunkedIndexOptions {
  std::string factory = "Flat";
  std::string work_dir;         // where the trained index and the shards go (required)
  int64_t train_size = 100000;  // vectors in the training sample (at most every vector)
  int ef_construction = 0;      // HNSW only; 0: FAISS's default
  bool quiet = true;
};

// Called by every rank; rank 0 returns the merged index (fingerprinted with the encoding's
// model), the others nullopt. InvalidArgument for a bad factory or too small a sample for it.
std::optional<Index> build_index_from_chunks(const EmbeddingChunks& chunks, DataParallel& dp,
                                             const ChunkedIndexOptions& options);

}  // namespace lrem
