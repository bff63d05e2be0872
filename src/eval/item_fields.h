// An item's fields other than id and title, parsed once when an ItemStore takes the item,
// so that serialising search hits never parses them again.
#pragma once

#include "util/json_reader.h"

namespace lrem {

struct ItemFields {
  OrderedJson object;  // always a JSON object without "id" or "title", in the item's field order
};

}  // namespace lrem
