// A catalogue's item embeddings as a directory of checksummed chunks, written by any number of
// ranks and resumable after a kill.
//
//   <dir>/manifest.json       what the run is: model fingerprint, dim, the items file's size,
//                             chunk_bytes and the number of chunks (a rerun must match it)
//   <dir>/chunk-000012.bin    int64 ids[rows], then float32 vectors[rows x dim] (L2-normalised)
//   <dir>/chunk-000012.json   the chunk's manifest entry: its byte range of items.jsonl, rows,
//                             and the SHA-256 of that input range and of the .bin
//
// Chunk c is the lines of items.jsonl that start in [c * chunk_bytes, (c + 1) * chunk_bytes)
// (util/line_chunks.h), so the chunks do not depend on the number of ranks; rank r of N
// encodes the contiguous run of chunks [c * r / N, c * (r + 1) / N), streaming only its own
// byte range, with one chunk's items and vectors in memory at a time. Each file is written
// atomically (temporary + rename) and the .json goes last: a chunk is finished when its entry
// exists and both checksums verify. A rerun (same or another number of ranks) verifies and
// skips finished chunks and encodes the rest; an entry that fails verification (a corrupt
// .bin, an edited items.jsonl) is re-encoded, and said so on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lrem/embedder.h"
#include "model/distributed.h"

namespace lrem {

struct ChunkedEncodingOptions {
  uint64_t chunk_bytes = uint64_t(1) << 20;  // of items.jsonl per chunk (about 15,000 short titles)
  bool quiet = true;                          // else one stderr line per chunk
};

// What this rank did.
struct ChunkedEncodingReport {
  int64_t chunks = 0;          // the chunks of this rank
  int64_t encoded = 0;         // encoded by this run
  int64_t skipped = 0;         // finished before, verified and skipped
  int64_t reencoded = 0;       // of `encoded`: had an entry that failed verification
  int64_t items_encoded = 0;   // items in the chunks encoded by this run
};

// Encodes items.jsonl into `dir` as rank dp.rank() of dp.world_size() (all ranks call it with
// the same arguments). InvalidArgument if `dir` holds a run of another model, dim, items file
// size or chunk_bytes (saying to use another directory), or if the ranks disagree on those;
// FormatError naming the file, the chunk's byte offset and the line for a bad item.
ChunkedEncodingReport encode_items_chunked(const Embedder& embedder, const std::string& items_path,
                                           const std::string& dir, DataParallel& dp,
                                           const ChunkedEncodingOptions& options = {});

// Reads a finished directory.
class EmbeddingChunks {
 public:
  // FormatError if the manifest is malformed or a chunk has no entry (the encoding did not
  // finish: rerun it) ; IoError if `dir` has no manifest.
  static EmbeddingChunks open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  int dim() const { return dim_; }
  const std::string& model_fingerprint() const { return fingerprint_; }
  int64_t count() const { return int64_t(rows_.size()); }  // chunks
  int64_t rows(int64_t c) const { return rows_.at(size_t(c)); }
  int64_t total_rows() const;

  struct Chunk {
    std::vector<int64_t> ids;
    std::vector<float> vectors;  // ids.size() x dim, row-major
  };
  // Verified against its entry's checksum: FormatError saying to rerun the encoding otherwise.
  Chunk read(int64_t c) const;

 private:
  std::string dir_, fingerprint_;
  int dim_ = 0;
  std::vector<int64_t> rows_;
};

}  // namespace lrem
