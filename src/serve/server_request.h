// The bodies of POST /search and POST /embed, parsed and checked against the server's
// limits before any work is done. Pure (body text in, request or lrem::Error out), so the
// part of the server that reads what clients send can be fuzzed without a socket or a model.
#pragma once

#include <string>
#include <vector>

#include "lrem/embedder.h"
#include "lrem/server.h"

namespace lrem {

struct SearchRequest {
  std::vector<std::string> queries;
  bool batch = false;  // "queries" (answer with "results") rather than "query"
  int k = 10;
  QueryMode mode = QueryMode::Reason;
};

struct EmbedRequest {
  std::vector<std::string> texts;
  bool items = false;  // "kind": "item"
  QueryMode mode = QueryMode::Reason;
};

// InvalidArgument (HTTP 400) for a body that is not a JSON object, unknown or mistyped
// fields, empty texts, k <= 0 or an unknown mode; LimitExceeded (HTTP 413) for more texts
// than max_batch, a text over max_query_bytes or k over max_k. `options` supplies the limits
// and the default mode.
SearchRequest parse_search_request(const std::string& text, const ServerOptions& options);
EmbedRequest parse_embed_request(const std::string& text, const ServerOptions& options);

}  // namespace lrem
