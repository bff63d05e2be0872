#include "lrem/index.h"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "util/file_io.h"
#include "retrieval/faiss_sink_writer.h"
#include "retrieval/index_directory.h"
#include "lrem/error.h"

namespace lrem {

namespace {

using FaissId = faiss::Index::idx_t;
static_assert(sizeof(FaissId) == sizeof(int64_t), "lrem ids are int64 and must match FAISS ids bit for bit");

// Vectors checked (finite, non-zero; unit norm if the caller says so) and, unless already
// normalised, L2-normalised into a private copy. data() points at whichever is valid.
class PreparedRows {
 public:
  PreparedRows(const float* x, int64_t n, int dim, bool normalized, const char* what) : source_(x) {
    if (n < 0) throw InvalidArgument(std::string(what) + ": negative row count " + std::to_string(n));
    if (n > 0 && !x) throw InvalidArgument(std::string(what) + ": null vector pointer");
    if (!normalized) copy_.assign(x, x + n * dim);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = x + i * dim;
      double sq = 0;
      for (int j = 0; j < dim; ++j) {
        if (!std::isfinite(row[j])) {
          throw InvalidArgument(std::string(what) + ": row " + std::to_string(i) + " contains NaN or Inf");
        }
        sq += double(row[j]) * row[j];
      }
      const double norm = std::sqrt(sq);
      if (norm == 0) {
        throw InvalidArgument(std::string(what) + ": row " + std::to_string(i) +
                              " is all zeros and has no direction for cosine similarity");
      }
      if (normalized && std::abs(norm - 1) > 1e-3) {
        throw InvalidArgument(std::string(what) + ": row " + std::to_string(i) + " has norm " + std::to_string(norm) +
                              " but normalized=true was passed; pass normalized=false to normalise it");
      }
      if (!normalized) {
        float* out = copy_.data() + i * dim;
        for (int j = 0; j < dim; ++j) out[j] = float(out[j] / norm);
      }
    }
  }
  const float* data() const { return copy_.empty() ? source_ : copy_.data(); }

 private:
  const float* source_;
  std::vector<float> copy_;
};

// The index doing the real work under the id map and any pre-transform / refinement layers.
faiss::Index* innermost(faiss::Index* index) {
  for (;;) {
    if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) {
      index = pre->index;
    } else if (auto* refine = dynamic_cast<faiss::IndexRefine*>(index)) {
      index = refine->base_index;
    } else {
      return index;
    }
  }
}

}  // namespace

struct Index::State {
  int dim = 0;
  std::string factory;
  std::string model_fingerprint;
  std::unique_ptr<faiss::IndexIDMap2> index;
  bool mapped = false;  // loaded with mmap: read-only

  // InvalidArgument for a change to a mapped index (`what` names the call).
  void require_writable(const char* what) const {
    if (mapped)
      throw InvalidArgument(std::string("Index::") + what + ": this index was opened memory-mapped (read-only); "
                            "load it without mmap to change it");
  }

  // glibc's rwlock prefers readers, so a steady stream of searches would starve add()
  // forever. A writer holds `turnstile` while it waits for the exclusive lock, and every
  // reader passes through `turnstile` first, so new searches queue behind a waiting writer.
  mutable std::mutex turnstile;
  mutable std::shared_mutex mutex;

  std::shared_lock<std::shared_mutex> read_lock() const {
    std::lock_guard pass(turnstile);
    return std::shared_lock(mutex);
  }
  std::unique_lock<std::shared_mutex> write_lock() {
    std::lock_guard hold(turnstile);
    return std::unique_lock(mutex);
  }
};

Index::Index(std::unique_ptr<State> state) : state_(std::move(state)) {}

Index::Index(int dim, const std::string& factory) : state_(std::make_unique<State>()) {
  if (dim <= 0) throw InvalidArgument("Index: dim must be positive, got " + std::to_string(dim));
  std::unique_ptr<faiss::Index> inner;
  try {
    inner.reset(faiss::index_factory(dim, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument("Index: FAISS cannot build factory string '" + factory + "': " + e.what());
  }
  if (dynamic_cast<faiss::IndexIDMap*>(inner.get())) {
    throw InvalidArgument("Index: factory string '" + factory + "' must not contain IDMap (ids are always kept)");
  }
  state_->dim = dim;
  state_->factory = factory;
  state_->index = std::make_unique<faiss::IndexIDMap2>(inner.get());
  state_->index->own_fields = true;
  (void)inner.release();  // the id map owns it now (own_fields)
}

Index::~Index() = default;
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;

int Index::dim() const { return state_->dim; }
const std::string& Index::factory() const { return state_->factory; }

int64_t Index::size() const {
  auto lock = state_->read_lock();
  return state_->index->ntotal;
}

bool Index::is_trained() const {
  auto lock = state_->read_lock();
  return state_->index->is_trained;
}

std::string Index::model_fingerprint() const {
  auto lock = state_->read_lock();
  return state_->model_fingerprint;
}

void Index::set_model_fingerprint(const std::string& fingerprint) {
  auto lock = state_->write_lock();
  state_->model_fingerprint = fingerprint;
}

void Index::train(const float* x, int64_t n, bool normalized) {
  PreparedRows rows(x, n, state_->dim, normalized, "Index::train");
  auto lock = state_->write_lock();
  if (state_->index->is_trained) return;
  try {
    state_->index->train(n, rows.data());
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument("Index::train ('" + state_->factory + "', " + std::to_string(n) + " vectors): " + e.what());
  }
}

void Index::add(const float* x, const int64_t* ids, int64_t n, bool normalized) {
  PreparedRows rows(x, n, state_->dim, normalized, "Index::add");
  if (n > 0 && !ids) throw InvalidArgument("Index::add: null id pointer");
  std::unordered_set<int64_t> batch;
  batch.reserve(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0) throw InvalidArgument("Index::add: id " + std::to_string(ids[i]) + " is negative");
    if (!batch.insert(ids[i]).second) {
      throw InvalidArgument("Index::add: id " + std::to_string(ids[i]) + " appears twice in the batch");
    }
  }
  auto lock = state_->write_lock();
  state_->require_writable("add");
  faiss::IndexIDMap2& index = *state_->index;
  if (!index.is_trained) {
    throw InvalidArgument("Index::add: the '" + state_->factory +
                          "' index is not trained yet; call train() with representative vectors first");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (index.rev_map.count(ids[i])) {
      throw InvalidArgument("Index::add: id " + std::to_string(ids[i]) + " is already in the index; remove it first");
    }
  }
  try {
    index.add_with_ids(n, rows.data(), reinterpret_cast<const FaissId*>(ids));
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument(std::string("Index::add: ") + e.what());
  }
}

SearchResult Index::search(const float* queries, int64_t nq, int k, bool normalized) const {
  if (k <= 0) throw InvalidArgument("Index::search: k must be positive, got " + std::to_string(k));
  if (k > kMaxK) {
    throw LimitExceeded("Index::search: k = " + std::to_string(k) + " exceeds the limit of " + std::to_string(kMaxK));
  }
  PreparedRows rows(queries, nq, state_->dim, normalized, "Index::search");
  SearchResult result;
  result.num_queries = nq;
  result.k = k;
  result.ids.assign(size_t(nq) * k, -1);
  result.scores.assign(size_t(nq) * k, -std::numeric_limits<float>::infinity());
  auto lock = state_->read_lock();
  // FAISS's HNSW has no entry point while empty; every result is padding anyway.
  if (nq == 0 || state_->index->ntotal == 0) return result;
  try {
    state_->index->search(nq, rows.data(), k, result.scores.data(), reinterpret_cast<FaissId*>(result.ids.data()));
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument(std::string("Index::search: ") + e.what());
  }
  lock.unlock();
  for (size_t i = 0; i < result.ids.size(); ++i) {
    if (result.ids[i] < 0) result.scores[i] = -std::numeric_limits<float>::infinity();
  }
  return result;
}

void Index::merge_from(Index& other) {
  if (&other == this) throw InvalidArgument("Index::merge_from: cannot merge an index into itself");
  auto lock = state_->write_lock();
  auto other_lock = other.state_->write_lock();
  state_->require_writable("merge_from");
  other.state_->require_writable("merge_from");
  faiss::IndexIDMap2& into = *state_->index;
  faiss::IndexIDMap2& from = *other.state_->index;
  if (other.state_->dim != state_->dim || other.state_->factory != state_->factory ||
      other.state_->model_fingerprint != state_->model_fingerprint)
    throw InvalidArgument("Index::merge_from: the indexes differ (dim " + std::to_string(state_->dim) + " vs " +
                          std::to_string(other.state_->dim) + ", factory '" + state_->factory + "' vs '" +
                          other.state_->factory + "', or model fingerprint)");
  for (const FaissId id : from.id_map)
    if (into.rev_map.count(id))
      throw InvalidArgument("Index::merge_from: id " + std::to_string(id) +
                            " is in both indexes (is it repeated in the catalogue?)");
  // The id map is merged here, not by IndexIDMap2::merge_from: FAISS 1.7.3 merges the inner
  // IVF without shifting the merged entries' internal ids past this index's, so they would
  // name this index's items. An IVF takes the shift as add_id; Flat codes are positional.
  const FaissId shift = into.ntotal;
  try {
    into.index->merge_from(*from.index, dynamic_cast<faiss::IndexIVF*>(into.index) ? shift : 0);
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument("Index::merge_from: FAISS cannot merge these '" + state_->factory +
                          "' indexes (merging needs Flat or IVF copies of one trained index): " + e.what());
  }
  for (const FaissId id : from.id_map) {
    into.rev_map[id] = FaissId(into.id_map.size());
    into.id_map.push_back(id);
  }
  into.ntotal = into.index->ntotal;
  from.id_map.clear();
  from.rev_map.clear();
  from.ntotal = 0;
}

int64_t Index::remove(const int64_t* ids, int64_t n) {
  if (n < 0) throw InvalidArgument("Index::remove: negative id count " + std::to_string(n));
  if (n > 0 && !ids) throw InvalidArgument("Index::remove: null id pointer");
  faiss::IDSelectorBatch selector(size_t(n), reinterpret_cast<const FaissId*>(ids));
  auto lock = state_->write_lock();
  state_->require_writable("remove");
  try {
    return int64_t(state_->index->remove_ids(selector));
  } catch (const faiss::FaissException& e) {
    throw InvalidArgument("Index::remove: the '" + state_->factory +
                          "' index does not support removal (rebuild it without these ids): " + e.what());
  }
}

namespace {
// The HNSW graph under an index, or nullptr.
faiss::HNSW* find_hnsw(faiss::Index* index) {
  auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(innermost(index));
  return hnsw ? &hnsw->hnsw : nullptr;
}
// ... or InvalidArgument naming the knob that needs one.
faiss::HNSW& hnsw_graph(faiss::Index* index, const std::string& factory, const char* knob) {
  faiss::HNSW* hnsw = find_hnsw(index);
  if (!hnsw) throw InvalidArgument(std::string("Index::") + knob + ": applies to HNSW indexes, not '" + factory + "'");
  return *hnsw;
}
}  // namespace

void Index::set_ef_search(int ef_search) {
  if (ef_search < 1) throw InvalidArgument("Index::set_ef_search: must be >= 1, got " + std::to_string(ef_search));
  auto lock = state_->write_lock();
  hnsw_graph(state_->index->index, state_->factory, "set_ef_search").efSearch = ef_search;
}

void Index::set_ef_construction(int ef_construction) {
  if (ef_construction < 1)
    throw InvalidArgument("Index::set_ef_construction: must be >= 1, got " + std::to_string(ef_construction));
  auto lock = state_->write_lock();
  hnsw_graph(state_->index->index, state_->factory, "set_ef_construction").efConstruction = ef_construction;
}

int Index::hnsw_m() const {
  auto lock = state_->read_lock();
  const faiss::HNSW* hnsw = find_hnsw(state_->index->index);
  // Level 0 links 2*M neighbours, the levels above M (faiss::HNSW::set_default_probas).
  return hnsw ? hnsw->nb_neighbors(1) : 0;
}

int Index::ef_construction() const {
  auto lock = state_->read_lock();
  const faiss::HNSW* hnsw = find_hnsw(state_->index->index);
  return hnsw ? hnsw->efConstruction : 0;
}

int Index::ef_search() const {
  auto lock = state_->read_lock();
  const faiss::HNSW* hnsw = find_hnsw(state_->index->index);
  return hnsw ? hnsw->efSearch : 0;
}

bool Index::read_only() const { return state_->mapped; }

void Index::set_nprobe(int nprobe) {
  if (nprobe < 1) throw InvalidArgument("Index::set_nprobe: must be >= 1, got " + std::to_string(nprobe));
  auto lock = state_->write_lock();
  auto* ivf = dynamic_cast<faiss::IndexIVF*>(innermost(state_->index->index));
  if (!ivf) throw InvalidArgument("Index::set_nprobe: nprobe applies to IVF indexes, not '" + state_->factory + "'");
  ivf->nprobe = size_t(nprobe);
}

void Index::save(const std::string& dir) const { save_unit(dir, nullptr); }

void Index::save(const std::string& dir, const ItemStore& items) const {
  save_unit(dir, [&items](const std::string& to, IndexMeta& meta) { index_directory::stage_items(to, items, meta); });
}

void Index::save(const std::string& dir, const std::string& items_path) const {
  save_unit(dir, [&items_path](const std::string& to, IndexMeta& meta) {
    index_directory::stage_items_file(to, items_path, meta);
  });
}

void Index::save_unit(const std::string& dir, const StageItems& stage_items) const {
  ensure_directory(dir);
  IndexMeta meta;
  {
    // Streamed to the staged file under the read lock: searches go on, changes wait.
    auto lock = state_->read_lock();
    meta.format_version = kFormatVersion;
    meta.dim = state_->dim;
    meta.metric = "ip";
    meta.factory = state_->factory;
    meta.model_fingerprint = state_->model_fingerprint;
    meta.count = state_->index->ntotal;
    const auto serialise = [&](const index_directory::ByteSink& sink) {
      FaissSinkWriter writer(sink);
      try {
        faiss::write_index(state_->index.get(), &writer);
      } catch (const faiss::FaissException& e) {
        throw IoError("Index::save: FAISS could not serialise the index: " + std::string(e.what()));
      }
    };
    meta.index_sha256 = index_directory::stage(dir, index_directory::kIndexFile, serialise);
  }
  meta.created = utc_now_iso8601();
  // Every file is staged before meta.json commits them together (index_directory.h).
  if (stage_items) stage_items(dir, meta);
  index_directory::commit(dir, meta);
}

bool Index::exists(const std::string& dir) { return index_directory::holds_index(dir); }

Index Index::load(const std::string& dir, const std::string& expected_fingerprint, int expected_dim, bool mmap) {
  const IndexMeta meta = index_directory::read_meta(dir, kFormatVersion);
  const std::string meta_path = dir + "/" + index_directory::kMetaFile;
  auto state = std::make_unique<State>();
  state->dim = meta.dim;
  state->factory = meta.factory;
  state->model_fingerprint = meta.model_fingerprint;
  const int64_t count = meta.count;

  if (!expected_fingerprint.empty() && expected_fingerprint != state->model_fingerprint) {
    throw FormatError("index '" + dir + "' was built with model fingerprint '" + state->model_fingerprint +
                      "' but the current model is '" + expected_fingerprint +
                      "' (a '+pooling=' suffix names a non-default pooling); re-embed the items with this "
                      "model and pooling and rebuild the index");
  }
  if (expected_dim > 0 && expected_dim != state->dim) {
    throw FormatError("index '" + dir + "' holds " + std::to_string(state->dim) + "-dimensional vectors but " +
                      std::to_string(expected_dim) + " were expected");
  }

  // Checked against the digest before FAISS parses a byte.
  std::string index_path;
  std::unique_ptr<faiss::Index> loaded;
  try {
    if (mmap) {
      // FAISS maps an IVF's inverted lists (codes and ids) from the file instead of reading
      // them (OnDiskInvertedLists over the file's own lists); the rest is read into memory.
      index_path = index_directory::verify_committed(dir, index_directory::kIndexFile, meta.index_sha256,
                                                     "index_sha256");
      loaded.reset(faiss::read_index(index_path.c_str(), faiss::IO_FLAG_MMAP | faiss::IO_FLAG_READ_ONLY));
    } else {
      index_directory::CommittedFile file =
          index_directory::read_committed(dir, index_directory::kIndexFile, meta.index_sha256, "index_sha256");
      index_path = file.path;
      faiss::VectorIOReader reader;
      reader.data.assign(file.bytes.begin(), file.bytes.end());
      loaded.reset(faiss::read_index(&reader));
    }
  } catch (const faiss::FaissException& e) {
    throw FormatError("'" + index_path + "': FAISS cannot read it: " + e.what());
  }
  auto* id_map = dynamic_cast<faiss::IndexIDMap2*>(loaded.get());
  if (!id_map) throw FormatError("'" + index_path + "' is not an id-mapped index written by lrem");
  if (id_map->d != state->dim || id_map->ntotal != count || id_map->metric_type != faiss::METRIC_INNER_PRODUCT) {
    throw FormatError("'" + index_path + "' disagrees with '" + meta_path + "' (dim " + std::to_string(id_map->d) +
                      " vs " + std::to_string(state->dim) + ", count " + std::to_string(id_map->ntotal) + " vs " +
                      std::to_string(count) + ", or metric)");
  }
  (void)loaded.release();  // owned through id_map below
  state->index.reset(id_map);
  state->mapped = mmap;
  Index index(std::move(state));
  index_directory::replay_updates(dir, meta, index, /*read_only=*/mmap);
  return index;
}

}  // namespace lrem
