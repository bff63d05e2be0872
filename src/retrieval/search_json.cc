#include "retrieval/search_json.h"

namespace lrem {

OrderedJson search_response_json(const SearchResponse& response) {
  OrderedJson hits = OrderedJson::array();
  for (const SearchHit& hit : response.hits) {
    OrderedJson out{{"id", hit.id}, {"score", hit.score}, {"title", hit.title}};
    // The store checked that extra_json is an object without "id" or "title".
    const OrderedJson fields = OrderedJson::parse(hit.extra_json);
    for (const auto& field : fields.items())
      if (!out.contains(field.key())) out[field.key()] = field.value();
    hits.push_back(std::move(out));
  }
  return OrderedJson{{"query", response.query}, {"mode", to_string(response.mode)}, {"cot", response.cot},
              {"truncated", response.truncated}, {"hits", std::move(hits)}};
}

}  // namespace lrem
