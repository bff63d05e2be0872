#include "util/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "lrem/error.h"

namespace fs = std::filesystem;

namespace lrem {

namespace {

std::string errno_text() { return std::strerror(errno); }

void fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string read_file(const std::string& path, size_t max_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError("cannot open '" + path + "': " + errno_text());
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    if (out.size() + n > max_bytes) {
      std::fclose(f);
      throw LimitExceeded("'" + path + "' is larger than the limit of " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, n);
  }
  bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) throw IoError("error reading '" + path + "'");
  return out;
}

void write_all(std::FILE* f, const void* data, size_t n, const std::string& path) {
  if (n && std::fwrite(data, 1, n, f) != n) throw IoError("short write to '" + path + "': " + errno_text());
}

void ensure_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw IoError("cannot create directory '" + dir + "': " + ec.message());
}

void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& producer) {
  fs::path target(path);
  fs::path dir = target.parent_path();
  std::random_device rd;
  fs::path tmp = (dir.empty() ? fs::path(".") : dir) /
                 ("." + target.filename().string() + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw IoError("cannot create '" + tmp.string() + "' to save '" + path + "': " + errno_text());
  try {
    producer(f);
    if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) throw IoError("cannot flush '" + tmp.string() + "': " + errno_text());
    if (std::fclose(f) != 0) {
      f = nullptr;
      throw IoError("cannot close '" + tmp.string() + "': " + errno_text());
    }
    f = nullptr;
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError("cannot rename '" + tmp.string() + "' to '" + path + "': " + errno_text());
  } catch (...) {
    if (f) std::fclose(f);
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fsync_directory(dir);
}

void rename_durably(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    throw IoError("cannot rename '" + from + "' to '" + to + "': " + errno_text());
  fsync_directory(fs::path(to).parent_path());
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  write_file_atomic(path, [&](std::FILE* f) { write_all(f, contents.data(), contents.size(), path); });
}

}  // namespace lrem
