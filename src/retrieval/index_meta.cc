#include "retrieval/index_meta.h"

#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "lrem/error.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

bool is_hex_digest(const std::string& s, size_t digits = 64) {
  if (s.size() != digits) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string utc_now_iso8601() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

IndexMeta IndexMeta::parse(const std::string& text, const std::string& path, int supported_version) {
  const JsonDocument document(text, path);
  const JsonValue meta = document.object();
  IndexMeta out;
  const JsonValue version = meta.at("format_version");
  out.format_version = int(version.as_int(std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  if (out.format_version < supported_version)
    version.fail("format_version " + std::to_string(out.format_version) +
                 " was written by an older lrem (its catalogue is not an item database); rebuild the index "
                 "directory (`lrem index build --overwrite`, or save_index(..., overwrite=true))");
  if (out.format_version != supported_version)
    version.fail("format_version " + std::to_string(out.format_version) + " is not supported (this build reads version " +
                 std::to_string(supported_version) + ")");
  out.dim = int(meta.at("dim").as_int(1, std::numeric_limits<int>::max()));
  const JsonValue metric = meta.at("metric");
  out.metric = metric.as_string();
  if (out.metric != "ip") metric.fail("expected \"ip\", got '" + out.metric + "'");
  out.factory = meta.at("factory").as_string();
  out.model_fingerprint = meta.at("model_fingerprint").as_string();
  out.count = meta.at("count").as_int(0);
  const JsonValue digest = meta.at("index_sha256");
  out.index_sha256 = digest.as_string();
  if (!is_hex_digest(out.index_sha256)) digest.fail("expected a SHA-256 hex digest (64 lower-case hex digits)");
  out.created = meta.at("created").as_string();
  if (const auto catalogue = meta.find("catalogue_id"); catalogue && !catalogue->is_null()) {
    out.catalogue_id = catalogue->as_string();
    if (!is_hex_digest(out.catalogue_id, 32)) catalogue->expected("a catalogue id (32 lower-case hex digits)");
    out.catalogue_version = meta.at("catalogue_version").as_int(0);
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
  if (!catalogue_id.empty()) {
    meta["catalogue_id"] = catalogue_id;
    meta["catalogue_version"] = catalogue_version;
  }
  return meta.dump(2) + "\n";
}

}  // namespace lrem
