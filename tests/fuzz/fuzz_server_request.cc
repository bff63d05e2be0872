// The body of POST /search, POST /embed, POST /v1/chat/completions, POST /v1/embeddings and
// the admin routes (parse_search_request, parse_embed_request, parse_chat_request,
// parse_embeddings_request, parse_admin_items_request)
// with small limits, so the 413 paths are reachable. An accepted request must be within
// every limit: the server never does work that a limit should have refused.
#include <cstdlib>

#include "fuzz_support.h"
#include "serve/server_request.h"

namespace {

lrem::ServerOptions small_limits() {
  lrem::ServerOptions options;
  options.max_k = 50;
  options.max_batch = 8;
  options.max_query_bytes = 64;
  options.max_completion_tokens = 32;
  return options;
}

void check_texts(const std::vector<std::string>& texts, const lrem::ServerOptions& o) {
  if (texts.empty() || texts.size() > size_t(o.max_batch)) std::abort();
  for (const std::string& t : texts)
    if (t.empty() || t.size() > size_t(o.max_query_bytes)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const lrem::ServerOptions options = small_limits();
  const std::string body = lrem::fuzz::as_string(data + 1, size - 1);
  lrem::fuzz::expect_value_or_lrem_error([&] {
    const int which = data[0] % 6;
    if (which == 4 || which == 5) {
      const lrem::AdminItemsRequest r = lrem::parse_admin_items_request(body, options, /*removal=*/which == 5);
      const size_t n = which == 5 ? r.ids.size() : r.items.size();
      if (n == 0 || n > size_t(options.max_batch)) std::abort();
      for (int64_t id : r.ids)
        if (id < 0) std::abort();
      for (const lrem::Item& item : r.items)
        if (item.id < 0 || item.title.empty()) std::abort();
    } else if (which == 0) {
      const lrem::SearchRequest r = lrem::parse_search_request(body, options);
      check_texts(r.queries, options);
      if (r.k < 1 || r.k > options.max_k || (!r.batch && r.queries.size() != 1)) std::abort();
    } else if (which == 1) {
      check_texts(lrem::parse_embed_request(body, options).texts, options);
    } else if (which == 3) {
      constexpr int kDim = 64;
      const lrem::EmbeddingsRequest r = lrem::parse_embeddings_request(body, options, kDim);
      check_texts(r.embed.texts, options);
      if (r.dimensions < 0 || r.dimensions > kDim) std::abort();
    } else {
      const lrem::ChatRequest r = lrem::parse_chat_request(body, options);
      if (r.messages.empty() || r.messages.size() > size_t(options.max_batch)) std::abort();
      if (r.max_tokens < 0 || r.max_tokens > options.max_completion_tokens) std::abort();
      if (!(r.temperature >= 0 && r.temperature <= 2) || !(r.top_p > 0 && r.top_p <= 1)) std::abort();
    }
  });
  return 0;
}
