// A compiled PCRE2 pattern over UTF-8 text with Unicode properties (UTF + UCP: \p{L},
// \s and \w follow Unicode), JIT-compiled when the platform allows. Immutable after
// construction and safe to use from many threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace lrem {

class UnicodeRegex {
 public:
  // `literal`: match `pattern` as plain text. InvalidArgument with PCRE2's message and the
  // offset of the problem if the pattern does not compile.
  UnicodeRegex(const std::string& pattern, bool literal);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // Calls on_match(start, end) for each non-empty, non-overlapping match in `text`, left to
  // right. `text` must be valid UTF-8 (not checked again here). LimitExceeded if PCRE2 runs
  // out of its match or stack limits.
  void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace lrem
