#include "retrieval/chunked_encoding.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "lrem/dataset.h"
#include "lrem/error.h"
#include "util/file_io.h"
#include "util/json_reader.h"
#include "util/line_chunks.h"
#include "util/sha256.h"

namespace lrem {

namespace {

constexpr const char* kFormat = "lrem-embedding-chunks";
constexpr int kVersion = 1;

struct Manifest {
  std::string model_fingerprint;
  int dim = 0;
  uint64_t items_bytes = 0, chunk_bytes = 0;
  int64_t chunks = 0;

  std::string to_json() const {
    OrderedJson j;
    j["format"] = kFormat;
    j["version"] = kVersion;
    j["model_fingerprint"] = model_fingerprint;
    j["dim"] = dim;
    j["items_bytes"] = items_bytes;
    j["chunk_bytes"] = chunk_bytes;
    j["chunks"] = chunks;
    return j.dump(2) + "\n";
  }
  static Manifest load(const std::string& path) {
    const JsonDocument doc = JsonDocument::load(path);
    const JsonValue root = doc.object();
    if (root.at("format").as_string() != kFormat || root.at("version").as_int() != kVersion)
      root.fail("not a version-" + std::to_string(kVersion) + " '" + kFormat + "' manifest");
    Manifest m;
    m.model_fingerprint = root.at("model_fingerprint").as_string();
    m.dim = int(root.at("dim").as_int(1, 1 << 20));
    m.items_bytes = root.at("items_bytes").as_uint();
    m.chunk_bytes = root.at("chunk_bytes").as_uint();
    m.chunks = root.at("chunks").as_int(0);
    return m;
  }
};

// A chunk's manifest entry.
struct Entry {
  int64_t chunk = 0, rows = 0;
  uint64_t begin = 0, end = 0;
  std::string input_sha256, data_sha256;

  std::string to_json() const {
    OrderedJson j;
    j["chunk"] = chunk;
    j["begin"] = begin;
    j["end"] = end;
    j["rows"] = rows;
    j["input_sha256"] = input_sha256;
    j["data_sha256"] = data_sha256;
    return j.dump() + "\n";
  }
  static Entry load(const std::string& path) {
    const JsonDocument doc = JsonDocument::load(path);
    const JsonValue root = doc.object();
    Entry e;
    e.chunk = root.at("chunk").as_int(0);
    e.begin = root.at("begin").as_uint();
    e.end = root.at("end").as_uint();
    e.rows = root.at("rows").as_int(0);
    e.input_sha256 = root.at("input_sha256").as_string();
    e.data_sha256 = root.at("data_sha256").as_string();
    return e;
  }
};

std::string chunk_path(const std::string& dir, int64_t c, const char* ext) {
  char name[40];
  std::snprintf(name, sizeof name, "/chunk-%06lld.%s", static_cast<long long>(c), ext);
  return dir + name;
}

uint64_t digest_prefix(const std::string& text) {
  const std::string hex = sha256_hex(text);
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

// Why chunk c's entry does not describe a finished chunk of `input`, or "" if it does.
std::string verify(const std::string& dir, int64_t c, const Manifest& manifest, const LineChunks::Chunk& input) {
  const std::string entry_path = chunk_path(dir, c, "json");
  if (!std::filesystem::exists(entry_path)) return "missing";
  try {
    const Entry e = Entry::load(entry_path);
    if (e.chunk != c || e.begin != input.begin || e.end != input.end || e.input_sha256 != sha256_hex(input.text))
      return "its input range of the items file changed";
    const std::string data = read_file(chunk_path(dir, c, "bin"));
    if (data.size() != size_t(e.rows) * (sizeof(int64_t) + sizeof(float) * size_t(manifest.dim)) ||
        sha256_hex(data) != e.data_sha256)
      return "its .bin does not match the checksum in its entry";
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Entry encode_chunk(const Embedder& embedder, const std::string& dir, int64_t c, const LineChunks& lines,
                   const LineChunks::Chunk& input) {
  const std::string source = lines.path() + " (chunk " + std::to_string(c) + ", lines from byte " +
                             std::to_string(input.begin) + ")";
  std::vector<Item> items = parse_items(input.text, source);
  std::vector<std::string> titles;
  titles.reserve(items.size());
  for (Item& it : items) titles.push_back(std::move(it.title));
  Entry entry;
  entry.chunk = c;
  entry.begin = input.begin;
  entry.end = input.end;
  entry.rows = int64_t(items.size());
  entry.input_sha256 = sha256_hex(input.text);
  std::string data(size_t(entry.rows) * sizeof(int64_t), '\0');
  for (size_t i = 0; i < items.size(); ++i) std::memcpy(&data[i * sizeof(int64_t)], &items[i].id, sizeof(int64_t));
  if (!titles.empty()) {
    const Embeddings e = embedder.embed_items(titles);
    data.append(reinterpret_cast<const char*>(e.data.data()), e.data.size() * sizeof(float));
  }
  entry.data_sha256 = sha256_hex(data);
  write_file_atomic(chunk_path(dir, c, "bin"), data);
  // The entry commits the chunk: written only once its data is durable.
  write_file_atomic(chunk_path(dir, c, "json"), entry.to_json());
  return entry;
}

}  // namespace

ChunkedEncodingReport encode_items_chunked(const Embedder& embedder, const std::string& items_path,
                                           const std::string& dir, DataParallel& dp,
                                           const ChunkedEncodingOptions& options) {
  const LineChunks lines(items_path, options.chunk_bytes);
  Manifest manifest;
  manifest.model_fingerprint = embedder.fingerprint();
  manifest.dim = embedder.dim();
  manifest.items_bytes = lines.file_bytes();
  manifest.chunk_bytes = options.chunk_bytes;
  manifest.chunks = lines.count();
  const std::string manifest_text = manifest.to_json();
  dp.require_same(digest_prefix(manifest_text), "the model, the items file or --chunk-bytes");
  const std::string manifest_path = dir + "/manifest.json";
  dp.collectively([&] {
    if (std::filesystem::exists(manifest_path) && Manifest::load(manifest_path).to_json() != manifest_text)
      throw InvalidArgument("'" + dir + "' holds chunks of another encoding run (its manifest.json names another "
                            "model, dim, items file size or chunk size than this run: " + manifest_text +
                            "); give another directory, or delete it to start again");
  });
  dp.collectively([&] {
    if (!dp.is_main()) return;
    ensure_directory(dir);
    if (!std::filesystem::exists(manifest_path)) write_file_atomic(manifest_path, manifest_text);
  });

  ChunkedEncodingReport report;
  const int64_t first = manifest.chunks * dp.rank() / dp.world_size();
  const int64_t last = manifest.chunks * (dp.rank() + 1) / dp.world_size();
  report.chunks = last - first;
  const auto start = std::chrono::steady_clock::now();
  dp.collectively([&] {
    for (int64_t c = first; c < last; ++c) {
      const LineChunks::Chunk input = lines.read(c);
      const std::string problem = verify(dir, c, manifest, input);
      if (problem.empty()) {
        ++report.skipped;
        continue;
      }
      if (problem != "missing") {
        ++report.reencoded;
        std::cerr << "lrem: rank " << dp.rank() << ": re-encoding chunk " << c << " of '" << dir << "': " << problem
                  << "\n";
      }
      report.items_encoded += encode_chunk(embedder, dir, c, lines, input).rows;
      ++report.encoded;
      if (!options.quiet) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::cerr << "lrem: rank " << dp.rank() << ": chunk " << c + 1 - first << "/" << report.chunks << ", "
                  << report.items_encoded << " items encoded (" << int64_t(report.items_encoded / secs) << "/s)\n";
      }
    }
  });
  return report;
}

EmbeddingChunks EmbeddingChunks::open(const std::string& dir) {
  const std::string manifest_path = dir + "/manifest.json";
  if (!std::filesystem::exists(manifest_path))
    throw IoError("'" + dir + "' holds no encoding run (no manifest.json); run lrem embed --chunks-dir first");
  const Manifest manifest = Manifest::load(manifest_path);
  EmbeddingChunks out;
  out.dir_ = dir;
  out.fingerprint_ = manifest.model_fingerprint;
  out.dim_ = manifest.dim;
  for (int64_t c = 0; c < manifest.chunks; ++c) {
    const std::string entry_path = chunk_path(dir, c, "json");
    if (!std::filesystem::exists(entry_path))
      throw FormatError("'" + dir + "': chunk " + std::to_string(c) + " of " + std::to_string(manifest.chunks) +
                        " is not finished; rerun the encoding (it resumes) before building the index");
    out.rows_.push_back(Entry::load(entry_path).rows);
  }
  return out;
}

int64_t EmbeddingChunks::total_rows() const {
  int64_t n = 0;
  for (int64_t r : rows_) n += r;
  return n;
}

EmbeddingChunks::Chunk EmbeddingChunks::read(int64_t c) const {
  if (c < 0 || c >= count())
    throw InvalidArgument("EmbeddingChunks: chunk " + std::to_string(c) + " outside [0, " + std::to_string(count()) +
                          ")");
  const Entry e = Entry::load(chunk_path(dir_, c, "json"));
  const std::string path = chunk_path(dir_, c, "bin");
  const std::string data = read_file(path);
  const size_t id_bytes = size_t(e.rows) * sizeof(int64_t);
  if (data.size() != id_bytes + size_t(e.rows) * dim_ * sizeof(float) || sha256_hex(data) != e.data_sha256)
    throw FormatError("'" + path + "' does not match the checksum in its entry; rerun the encoding, which "
                      "re-encodes it");
  Chunk chunk;
  chunk.ids.resize(size_t(e.rows));
  chunk.vectors.resize(size_t(e.rows) * dim_);
  std::memcpy(chunk.ids.data(), data.data(), id_bytes);
  std::memcpy(chunk.vectors.data(), data.data() + id_bytes, chunk.vectors.size() * sizeof(float));
  return chunk;
}

}  // namespace lrem
