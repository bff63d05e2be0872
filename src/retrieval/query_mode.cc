// QueryMode's names, kept apart from the embedder so torch-free code (request parsing) can
// use them.
#include "lrem/embedder.h"
#include "lrem/error.h"

namespace lrem {

QueryMode parse_query_mode(const std::string& name) {
  if (name == "reason") return QueryMode::Reason;
  if (name == "direct") return QueryMode::Direct;
  throw InvalidArgument("unknown query mode '" + name + "': use \"reason\" or \"direct\"");
}

const char* to_string(QueryMode mode) { return mode == QueryMode::Reason ? "reason" : "direct"; }

}  // namespace lrem
