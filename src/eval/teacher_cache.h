// The keyword teacher's answers on disk (lrem/teacher.h): JSON Lines, one object per answer,
//   {"teacher": "<identity>", "query": "...", "answer": "...", "keywords": [...]}
// appended with one write() and synced before the next query counts as answered, so a
// killed run loses at most the answers in flight. A kill in the middle of a write leaves a
// last line without its newline; opening the cache cuts it off. Lines of other teachers
// (another model or prompt) stay in the file and are ignored.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace lrem {

class TeacherCache {
 public:
  // `path` empty: the answers are kept in memory only. IoError if the file cannot be opened
  // or repaired, FormatError (path:line) for a complete line that is not a cache entry.
  TeacherCache(const std::string& path, std::string identity);
  ~TeacherCache();
  TeacherCache(const TeacherCache&) = delete;
  TeacherCache& operator=(const TeacherCache&) = delete;

  const std::string* find(const std::string& query) const;  // nullptr if not answered
  // Records an answer (durably, when on disk). Not thread-safe: callers serialise.
  void append(const std::string& query, const std::string& answer, const std::vector<std::string>& keywords);

 private:
  const std::string path_;
  const std::string identity_;
  int fd_ = -1;
  std::unordered_map<std::string, std::string> answers_;
};

}  // namespace lrem
