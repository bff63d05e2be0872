// The one JSON shape of search results, shared by the HTTP server and `lrem search --json`:
//   {"query", "mode", "cot", "truncated", "hits": [{"id", "score", "title", <item fields>...}]}
// An item's own fields sit beside id/score/title; those three names keep their meaning.
#pragma once

#include "lrem/retriever.h"
#include "util/json_reader.h"

namespace lrem {

OrderedJson search_response_json(const SearchResponse& response);

}  // namespace lrem
