// The bodies of POST /search, POST /embed, POST /v1/embeddings, POST /v1/chat/completions and the admin routes, parsed and checked against the server's
// limits before any work is done. Pure (body text in, request or lrem::Error out), so the
// part of the server that reads what clients send can be fuzzed without a socket or a model.
#pragma once

#include <string>
#include <vector>

#include "lrem/dataset.h"
#include "lrem/embedder.h"
#include "lrem/server.h"
#include "model/chat_format.h"

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

// OpenAI's embeddings request (docs/SERVING.md, "POST /v1/embeddings"); the texts are
// embedded as /embed would, with the lrem extensions "kind" and "mode".
struct EmbeddingsRequest {
  EmbedRequest embed;
  std::string model;    // accepted; the answer names the served model
  bool base64 = false;  // "encoding_format": "base64" (little-endian float32 bytes)
  int dimensions = 0;   // Matryoshka truncation (then re-normalisation); 0: all of them
};

// OpenAI's chat-completions request, the part lrem serves (docs/SERVING.md).
struct ChatRequest {
  std::string model;  // echoed in the answer; the served model answers whatever it says
  std::vector<ChatMessage> messages;
  int max_tokens = 0;  // 0: the server's max_completion_tokens
  float temperature = 1.0f;
  float top_p = 1.0f;
  uint64_t seed = 0;
  std::vector<std::string> stop;  // the reply ends before the first of these strings
};

// InvalidArgument (HTTP 400) for a body that is not a JSON object, unknown or mistyped
// fields, empty texts, k <= 0 or an unknown mode; LimitExceeded (HTTP 413) for more texts
// than max_batch, a text over max_query_bytes or k over max_k. `options` supplies the limits
// and the default mode.
SearchRequest parse_search_request(const std::string& text, const ServerOptions& options);
EmbedRequest parse_embed_request(const std::string& text, const ServerOptions& options);
// Also 400 for token-id input, an unknown encoding_format, or dimensions outside [1, dim].
EmbeddingsRequest parse_embeddings_request(const std::string& text, const ServerOptions& options, int dim);
// Also 400 for "stream": true or "n" other than 1 (not offered), a role other than system,
// user or assistant, no messages; 413 for more messages than max_batch, or max_tokens over
// max_completion_tokens. Fields of OpenAI's API that do not change the answer ("user",
// "frequency_penalty" and "presence_penalty" at 0, "logprobs": false) are accepted.
ChatRequest parse_chat_request(const std::string& text, const ServerOptions& options);

// The admin routes' bodies: {"items": [{"id", "title", ...fields}, ...]} (add, update) or
// {"ids": [...]} (remove). 400 for an item items.jsonl could not hold (the message names
// its index) or an empty list; 413 for more entries than max_batch.
struct AdminItemsRequest {
  std::vector<Item> items;
  std::vector<int64_t> ids;
};
AdminItemsRequest parse_admin_items_request(const std::string& text, const ServerOptions& options, bool removal);

}  // namespace lrem
