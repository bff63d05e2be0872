#include "train/examples.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <sstream>

#include "util/file_io.h"
#include "lrem/dataset.h"
#include "lrem/error.h"

namespace lrem::train {

std::vector<Example> read_examples(const std::string& path, const std::string& catalogue, bool require_cot) {
  std::optional<ItemStore> items;
  std::istringstream in(read_file(path));
  std::vector<Example> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    const auto fail = [&](const std::string& problem) { throw FormatError(where + ": " + problem); };
    const auto row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object()) fail("not a JSON object");
    const auto title_of = [&](const nlohmann::json& v, const std::string& field) -> std::string {
      if (v.is_string()) return v.get<std::string>();
      if (!v.is_number_integer()) fail("field '" + field + "' must be a title (string) or an item id (integer)");
      if (catalogue.empty()) fail("field '" + field + "' holds an item id but the config names no catalogue");
      if (!items) items = ItemStore::load(catalogue);
      const std::optional<Item> item = items->find(v.get<int64_t>());
      if (!item) fail("item id " + v.dump() + " in field '" + field + "' is not in the catalogue " + catalogue);
      return item->title;
    };
    const auto text = [&](const char* field, bool required) -> std::string {
      auto it = row.find(field);
      if (it == row.end() || it->is_null()) {
        if (required) fail(std::string("missing field '") + field + "'");
        return "";
      }
      if (!it->is_string()) fail(std::string("field '") + field + "' must be a string");
      return it->get<std::string>();
    };
    Example ex;
    ex.query = text("query", true);
    if (ex.query.empty()) fail("field 'query' is empty");
    ex.cot = text("cot", require_cot);
    ex.category = text("category", false);
    if (row.contains("item") && !row["item"].is_null()) {
      ex.item = title_of(row["item"], "item");
    } else if (row.contains("item_id") && !row["item_id"].is_null()) {
      if (!row["item_id"].is_number_integer()) fail("field 'item_id' must be an integer");
      ex.item = title_of(row["item_id"], "item_id");
    } else {
      fail("missing field 'item' (a title) or 'item_id' (with a catalogue)");
    }
    if (ex.item.empty()) fail("the target item's title is empty");
    if (row.contains("negatives") && !row["negatives"].is_null()) {
      if (!row["negatives"].is_array()) fail("field 'negatives' must be a list of titles or item ids");
      for (const auto& n : row["negatives"]) ex.negatives.push_back(title_of(n, "negatives"));
    }
    out.push_back(std::move(ex));
  }
  if (out.empty()) throw FormatError(path + ": no examples (the file is empty)");
  return out;
}

}  // namespace lrem::train
