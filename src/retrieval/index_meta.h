// meta.json of a saved index: what Index::load checks before FAISS reads a single byte of
// index.faiss. Parsing is pure (text in, fields or FormatError out) so it can be fuzzed.
#pragma once

#include <cstdint>
#include <string>

namespace lrem {

struct IndexMeta {
  int format_version = 0;
  int dim = 0;
  std::string metric;  // always "ip"
  std::string factory;
  std::string model_fingerprint;
  int64_t count = 0;
  std::string created;       // ISO-8601 UTC
  std::string index_sha256;  // lower-case hex digest of index.faiss
  // The catalogue saved with the index as one unit (save_index), the item database
  // items.sqlite: its catalogue_id (32 lower-case hex digits; empty when the directory holds
  // no catalogue, Index::save(dir) alone) and the version of it that index.faiss holds (later
  // versions are replayed from the database's index log).
  std::string catalogue_id;
  int64_t catalogue_version = 0;

  // FormatError naming `path` and the field for malformed JSON, a missing or mistyped field,
  // an unsupported format_version, a non-positive dim, a metric other than "ip", a negative
  // count or version, a digest that is not 64 lower-case hex digits or a catalogue_id that is
  // not 32. An older format_version is
  // refused with a message saying how to rebuild the directory.
  static IndexMeta parse(const std::string& text, const std::string& path, int supported_version);
  std::string to_json() const;
};

// The current time as IndexMeta::created records it.
std::string utc_now_iso8601();

}  // namespace lrem
