#include "util/line_chunks.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>

#include "lrem/error.h"

namespace lrem {

namespace {

struct CloseFile {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

LineChunks::LineChunks(std::string path, uint64_t chunk_bytes) : path_(std::move(path)), chunk_bytes_(chunk_bytes) {
  if (chunk_bytes == 0) throw InvalidArgument("LineChunks: chunk_bytes must be positive");
  std::error_code error;
  file_bytes_ = std::filesystem::file_size(path_, error);
  if (error) throw IoError("cannot read '" + path_ + "': " + error.message());
}

uint64_t LineChunks::line_start(std::FILE* f, uint64_t offset) const {
  if (offset == 0) return 0;
  if (offset >= file_bytes_) return file_bytes_;
  // A line starts at `offset` exactly when the byte before it ends a line.
  if (std::fseek(f, long(offset - 1), SEEK_SET) != 0) throw IoError("cannot seek in '" + path_ + "'");
  char buf[1 << 16];
  uint64_t at = offset - 1;
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, f);
    if (n == 0) return file_bytes_;
    for (size_t i = 0; i < n; ++i)
      if (buf[i] == '\n') return at + i + 1;
    at += n;
  }
}

LineChunks::Chunk LineChunks::read(int64_t c) const {
  if (c < 0 || c >= count())
    throw InvalidArgument("LineChunks: chunk " + std::to_string(c) + " outside [0, " + std::to_string(count()) + ")");
  std::unique_ptr<std::FILE, CloseFile> f(std::fopen(path_.c_str(), "rb"));
  if (!f) throw IoError("cannot open '" + path_ + "'");
  Chunk chunk;
  chunk.begin = line_start(f.get(), uint64_t(c) * chunk_bytes_);
  chunk.end = line_start(f.get(), uint64_t(c + 1) * chunk_bytes_);
  if (chunk.end <= chunk.begin) return chunk;
  chunk.text.resize(chunk.end - chunk.begin);
  if (std::fseek(f.get(), long(chunk.begin), SEEK_SET) != 0 ||
      std::fread(chunk.text.data(), 1, chunk.text.size(), f.get()) != chunk.text.size())
    throw IoError("'" + path_ + "' could not be read at bytes " + std::to_string(chunk.begin) + ".." +
                  std::to_string(chunk.end) + " (did it change while being read?)");
  return chunk;
}

}  // namespace lrem
