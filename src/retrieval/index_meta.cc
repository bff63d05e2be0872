#include "retrieval/index_meta.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

// Typed field access with errors naming the file and the field.
template <typename T>
T field(const nlohmann::json& meta, const std::string& path, const char* name) {
  auto it = meta.find(name);
  if (it == meta.end()) throw FormatError("'" + path + "': missing field \"" + name + "\"");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw FormatError("'" + path + "': field \"" + name + "\" has the wrong type (" + it->type_name() + ")");
  }
}

// nlohmann would convert 1e300 or 2^40 to int by a plain cast (undefined, or wrapped):
// integers must be JSON integers and fit.
template <typename T>
T integer_field(const nlohmann::json& meta, const std::string& path, const char* name) {
  auto it = meta.find(name);
  if (it == meta.end()) throw FormatError("'" + path + "': missing field \"" + name + "\"");
  const bool fits = it->is_number_unsigned()  ? it->get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                    : it->is_number_integer() ? it->get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                                    it->get<int64_t>() <= int64_t(std::numeric_limits<T>::max())
                                              : false;
  if (!fits) {
    throw FormatError("'" + path + "': field \"" + name + "\" must be an integer in range, got " + it->dump());
  }
  return static_cast<T>(it->get<int64_t>());
}

bool is_hex_digest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

IndexMeta IndexMeta::parse(const std::string& text, const std::string& path, int supported_version) {
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("'" + path + "' is not valid JSON: " + e.what());
  }
  if (!meta.is_object()) throw FormatError("'" + path + "' must hold a JSON object");
  IndexMeta out;
  out.format_version = integer_field<int>(meta, path, "format_version");
  if (out.format_version < supported_version) {
    throw FormatError("'" + path + "': format_version " + std::to_string(out.format_version) +
                      " was written by an older lrem whose meta.json does not checksum items.jsonl; rebuild the "
                      "index directory (`lrem index build --overwrite`, or save_index(..., overwrite=true))");
  }
  if (out.format_version != supported_version) {
    throw FormatError("'" + path + "': format_version " + std::to_string(out.format_version) +
                      " is not supported (this build reads version " + std::to_string(supported_version) + ")");
  }
  out.dim = integer_field<int>(meta, path, "dim");
  if (out.dim <= 0) throw FormatError("'" + path + "': field \"dim\" must be positive");
  out.metric = field<std::string>(meta, path, "metric");
  if (out.metric != "ip") throw FormatError("'" + path + "': field \"metric\" is '" + out.metric + "', expected 'ip'");
  out.factory = field<std::string>(meta, path, "factory");
  out.model_fingerprint = field<std::string>(meta, path, "model_fingerprint");
  out.count = integer_field<int64_t>(meta, path, "count");
  if (out.count < 0) throw FormatError("'" + path + "': field \"count\" must not be negative");
  out.index_sha256 = field<std::string>(meta, path, "index_sha256");
  if (!is_hex_digest(out.index_sha256)) {
    throw FormatError("'" + path + "': field \"index_sha256\" is not a SHA-256 hex digest");
  }
  out.created = field<std::string>(meta, path, "created");
  const JsonDocument doc(text, path);
  if (const auto items = doc.object().find("items_sha256"); items && !items->is_null()) {
    out.items_sha256 = items->as_string();
    if (!is_hex_digest(out.items_sha256)) items->expected("a SHA-256 hex digest (64 lower-case hex digits)");
  }
  return out;
}

std::string IndexMeta::to_json() const {
  nlohmann::json meta = {{"format_version", format_version},
                         {"dim", dim},
                         {"metric", metric},
                         {"factory", factory},
                         {"model_fingerprint", model_fingerprint},
                         {"count", count},
                         {"created", created},
                         {"index_sha256", index_sha256}};
  if (!items_sha256.empty()) meta["items_sha256"] = items_sha256;
  return meta.dump(2) + "\n";
}

}  // namespace lrem
