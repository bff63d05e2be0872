// QueryMode's names, kept apart from the embedder so torch-free code (request parsing) can
// use them.
#include "lrem/embedder.h"
#include "lrem/error.h"

namespace lrem {

QueryMode parse_query_mode(const std::string& name) {
  if (name == "reason") return QueryMode::Reason;
  if (name == "direct") return QueryMode::Direct;
  if (name == "auto") return QueryMode::Auto;
  throw InvalidArgument("unknown query mode '" + name + "': use \"reason\", \"direct\" or \"auto\"");
}

const char* to_string(QueryMode mode) {
  switch (mode) {
    case QueryMode::Reason: return "reason";
    case QueryMode::Direct: return "direct";
    case QueryMode::Auto: return "auto";
  }
  return "?";
}

}  // namespace lrem
