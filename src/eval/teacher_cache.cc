#include "eval/teacher_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lrem/error.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw IoError("teacher cache " + path + ": cannot " + what + ": " + std::strerror(errno));
}

}  // namespace

TeacherCache::TeacherCache(const std::string& path, std::string identity) : path_(path), identity_(std::move(identity)) {
  if (path_.empty()) return;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("open", path_);
  std::string text = read_file(path_);
  const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (complete < text.size()) {  // a write cut short by a kill
    if (::ftruncate(fd_, static_cast<off_t>(complete)) != 0) { ::close(fd_); fail("cut its torn last line", path_); }
    text.resize(complete);
  }
  size_t number = 0;
  for (size_t begin = 0; begin < text.size();) {
    const size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const JsonDocument doc(line, path_ + ":" + std::to_string(number));
      const JsonValue entry = doc.object();
      if (entry.at("teacher").as_string() == identity_)
        answers_[entry.at("query").as_string()] = entry.at("answer").as_string();
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
}

TeacherCache::~TeacherCache() {
  if (fd_ >= 0) ::close(fd_);
}

const std::string* TeacherCache::find(const std::string& query) const {
  auto it = answers_.find(query);
  return it == answers_.end() ? nullptr : &it->second;
}

void TeacherCache::append(const std::string& query, const std::string& answer,
                          const std::vector<std::string>& keywords) {
  if (fd_ >= 0) {
    const Json entry = {{"teacher", identity_}, {"query", query}, {"answer", answer}, {"keywords", keywords}};
    const std::string line = entry.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    // One write() of the whole line: with O_APPEND it lands after every complete line.
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size())) fail("append an answer", path_);
    if (::fdatasync(fd_) != 0) fail("sync", path_);
  }
  answers_[query] = answer;
}

}  // namespace lrem
