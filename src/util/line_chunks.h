// A text file cut into chunks of whole lines at fixed byte boundaries, so that N processes
// can each stream their own part of one JSON Lines file (never reading the others' parts) and
// always agree on where every chunk starts, whatever N is. Chunk c holds the lines whose first
// byte lies in [c * chunk_bytes, (c + 1) * chunk_bytes); a line longer than chunk_bytes makes
// the chunks it spans into empty ones.
#pragma once

#include <cstdint>
#include <string>

namespace lrem {

class LineChunks {
 public:
  // IoError if the file cannot be opened; InvalidArgument for chunk_bytes == 0.
  LineChunks(std::string path, uint64_t chunk_bytes);

  const std::string& path() const { return path_; }
  uint64_t file_bytes() const { return file_bytes_; }
  uint64_t chunk_bytes() const { return chunk_bytes_; }
  int64_t count() const { return int64_t((file_bytes_ + chunk_bytes_ - 1) / chunk_bytes_); }

  struct Chunk {
    uint64_t begin = 0, end = 0;  // byte offsets of its lines in the file
    std::string text;             // those lines
  };
  // InvalidArgument for c outside [0, count()); IoError if the file changed size or cannot be read.
  Chunk read(int64_t c) const;

 private:
  // The offset of the first line that starts at or after `offset`.
  uint64_t line_start(std::FILE* f, uint64_t offset) const;

  std::string path_;
  uint64_t chunk_bytes_, file_bytes_;
};

}  // namespace lrem
