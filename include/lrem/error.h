// Every failure lrem reports is an lrem::Error. The subclasses say who has to act:
// the caller's arguments (InvalidArgument), a file or directory (IoError), the contents
// of a file or request (FormatError), or a configured limit (LimitExceeded).
#pragma once

#include <stdexcept>
#include <string>

namespace lrem {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad argument or option from the caller (empty query, k <= 0, unknown mode...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file or directory could not be opened, read, written or renamed.
class IoError : public Error {
 public:
  using Error::Error;
};

// Data read from outside is malformed or inconsistent (corrupt safetensors, bad JSON line,
// an index built by another model...). Messages name the file and the offending part.
class FormatError : public Error {
 public:
  using Error::Error;
};

// An input exceeded a documented limit (query length, batch size, request body, k...).
class LimitExceeded : public Error {
 public:
  using Error::Error;
};

}  // namespace lrem
