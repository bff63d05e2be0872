// The one JSON shape of search results, shared by the HTTP server and `lrem search --json`:
//   {"query", "mode", "cot", "truncated", "hits": [{"id", "score", "title", <item fields>...}]}
// An item's own fields sit beside id/score/title; those three names keep their meaning.
#pragma once

#include "lrem/dataset.h"
#include "lrem/retriever.h"
#include "util/json_reader.h"

namespace lrem {

// `items` is the catalogue the hits came from (Retriever::items()); it supplies each hit's
// fields as parsed when the catalogue was loaded.
OrderedJson search_response_json(const SearchResponse& response, const ItemStore& items);

}  // namespace lrem
