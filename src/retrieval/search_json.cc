#include "retrieval/search_json.h"

#include "eval/item_fields.h"

namespace lrem {

OrderedJson search_response_json(const SearchResponse& response, const ItemStore& items) {
  OrderedJson hits = OrderedJson::array();
  for (const SearchHit& hit : response.hits) {
    OrderedJson out{{"id", hit.id}, {"score", hit.score}, {"title", hit.title}};
    for (const auto& field : items.fields(hit.id).object.items())
      if (!out.contains(field.key())) out[field.key()] = field.value();
    hits.push_back(std::move(out));
  }
  return OrderedJson{{"query", response.query}, {"mode", to_string(response.mode)}, {"cot", response.cot},
              {"truncated", response.truncated}, {"hits", std::move(hits)}};
}

}  // namespace lrem
