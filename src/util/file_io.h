// Whole-file reads and crash-safe writes. Every file lrem writes (checkpoints, tokenizer
// files, indexes, item stores, training state) goes through write_file_atomic, so an
// interrupted save never leaves a half-written file where a good one was.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace lrem {

// Reads a whole file; IoError naming the path if it cannot. Refuses files above max_bytes
// with LimitExceeded (outside data must not make us allocate whatever it likes).
std::string read_file(const std::string& path, size_t max_bytes = size_t(1) << 34);

// Writes `path` atomically: the producer writes into a temporary file in the same
// directory, which is flushed (fsync), renamed over `path`, and the directory is fsynced.
// If the producer throws, the temporary is removed and `path` is untouched.
void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& producer);
void write_file_atomic(const std::string& path, std::string_view contents);

// Renames a file within one directory (atomically replacing `to`) and fsyncs the directory
// so the rename survives a power loss; IoError if it fails.
void rename_durably(const std::string& from, const std::string& to);

// Writes a checked fwrite; IoError on short write.
void write_all(std::FILE* f, const void* data, size_t n, const std::string& path);

// Creates `dir` and its parents if missing; IoError if it cannot.
void ensure_directory(const std::string& dir);

}  // namespace lrem
