// A vector index for cosine similarity, backed by FAISS.
//
//   lrem::Index index(dim, "HNSW32");          // or "Flat", "IVF256,Flat", "IVF1024,PQ32"...
//   index.add(vectors, ids, n);                // row-major n x dim floats, one int64 id per row
//   auto hits = index.search(queries, nq, 10); // hits.ids / hits.scores are nq x 10
//   index.save("my_index");                    // a directory: index.faiss + meta.json
//   index.save("my_index", items);             // ... + items.sqlite, one unit (or save_index)
//   auto again = lrem::Index::load("my_index", model_fingerprint, dim);
//
// Scores are inner products of L2-normalised vectors, i.e. cosine similarities in [-1, 1]
// (approximate for compressed indexes such as PQ). add() and search() normalise copies of
// their inputs; pass `normalized = true` to skip that when the vectors already have unit norm.
//
// IVF-family indexes must be trained first: add() on an untrained index throws
// InvalidArgument telling the caller to call train() (it never trains implicitly, so the
// choice of training sample stays with the caller).
//
// Thread safety: every const method (search, size, save...) may run concurrently with any
// other; add, remove, train and the tuning knobs take an exclusive lock, so updating while
// other threads search is safe (searches wait for the update to finish). FAISS parallelises
// a batched search internally with OpenMP; the thread count is process-wide
// (OMP_NUM_THREADS / omp_set_num_threads) and this class never changes it. With many
// concurrent callers, prefer small batches per caller and OMP_NUM_THREADS=1.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lrem {

class ItemStore;
struct IndexMeta;

// Row-major nq x k results. Rows with fewer than k hits are padded with id -1 and score
// -infinity (this happens when k exceeds size(), or when an approximate index finds fewer).
struct SearchResult {
  int64_t num_queries = 0;
  int k = 0;
  std::vector<int64_t> ids;
  std::vector<float> scores;

  const int64_t* ids_of(int64_t query) const { return ids.data() + query * k; }
  const float* scores_of(int64_t query) const { return scores.data() + query * k; }
};

class Index {
 public:
  static constexpr int kFormatVersion = 3;  // 3: the catalogue is an item database (items.sqlite)
  static constexpr int kMaxK = 100000;  // search() refuses larger k with LimitExceeded

  // `factory` is a FAISS index_factory string; the metric is always inner product.
  // InvalidArgument (with FAISS's message) if dim <= 0 or the string is not understood.
  explicit Index(int dim, const std::string& factory = "Flat");
  ~Index();
  // A moved-from Index may only be destroyed or assigned to.
  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;

  int dim() const;
  int64_t size() const;
  const std::string& factory() const;
  bool is_trained() const;

  // Which model produced the vectors (e.g. a checkpoint hash). Stored in meta.json and
  // checked by load() so vectors from different models are never mixed.
  std::string model_fingerprint() const;
  void set_model_fingerprint(const std::string& fingerprint);

  // Trains the coarse quantizer / codebooks on n vectors (normalised like add()); FAISS
  // needs at least as many vectors as IVF lists (InvalidArgument otherwise). Does nothing
  // if is_trained() (always true for Flat and HNSW), so `train` may be called unconditionally.
  void train(const float* x, int64_t n, bool normalized = false);

  // Adds n vectors with their ids. All-or-nothing: InvalidArgument (and nothing added) for a
  // NaN/Inf or all-zero row, a row whose norm is not 1 when `normalized` is claimed, a
  // negative id, an id repeated in the batch or already present, or an untrained index.
  void add(const float* x, const int64_t* ids, int64_t n, bool normalized = false);

  // The k best items per query, best first. k <= 0: InvalidArgument; k > kMaxK:
  // LimitExceeded; k > size(): rows are padded (see SearchResult). NaN/Inf or zero query
  // rows: InvalidArgument.
  SearchResult search(const float* queries, int64_t nq, int k, bool normalized = false) const;

  // Moves every vector of `other` into this index and leaves `other` empty. Both must be
  // copies of one trained index (same dim, factory and model fingerprint; for IVF the same
  // trained quantizer and codebooks, as the distributed build makes them) holding disjoint
  // ids: InvalidArgument naming the problem (a shared id, an index type FAISS cannot merge,
  // such as HNSW) otherwise, with neither index changed.
  void merge_from(Index& other);

  // Removes the given ids (absent ids are ignored); returns how many were removed.
  // HNSW graphs do not support deletion: InvalidArgument (rebuild the index instead).
  int64_t remove(const int64_t* ids, int64_t n);

  // Search-time knobs. efSearch applies to HNSW indexes, nprobe to IVF indexes;
  // InvalidArgument for a value < 1 or an index type the knob does not apply to.
  void set_ef_search(int ef_search);
  void set_nprobe(int nprobe);
  // HNSW build knobs. M, the graph degree, is fixed when the index is made: the factory
  // string's number ("HNSW32": M = 32; FAISS's default efConstruction is 40, efSearch 16).
  // efConstruction, the candidate list of each insertion, applies to the vectors added after
  // it is set (so set it before add); larger builds a better graph, more slowly. Both are
  // saved with the index. Same errors as set_ef_search.
  void set_ef_construction(int ef_construction);
  // The HNSW parameters in force; 0 for an index that is not HNSW.
  int hnsw_m() const;
  int ef_construction() const;
  int ef_search() const;
  // True for an index loaded with mmap: add, remove and merge_from throw.
  bool read_only() const;

  // Writes `dir` (created if needed): index.faiss (the FAISS serialisation) and meta.json
  // (format_version, dim, metric "ip", factory, model_fingerprint, count, created (ISO-8601
  // UTC), index_sha256). Replaces an index already there (this is how an updated index is
  // saved in place). Crash-safe: every file is staged first and replacing meta.json commits
  // them together, so a reader finds either the previous save or this one, whole
  // (docs/RELIABILITY.md). A directory saved this way holds no catalogue.
  void save(const std::string& dir) const;
  // The same, with the catalogue as <dir>/items.sqlite (an item database) in the same unit:
  // meta.json also records its catalogue_id and version, so an index is never paired with
  // another save's items. Refusing to replace an existing directory is save_index's job
  // (retriever.h).
  void save(const std::string& dir, const ItemStore& items) const;
  // The same with the catalogue imported, streaming, from the JSON Lines file `items_path`
  // (for catalogues too large to hold as an ItemStore; the caller vouches that it holds the
  // indexed items, as the distributed build does, docs/SCALE.md).
  void save(const std::string& dir, const std::string& items_path) const;
  // True if `dir` holds a saved index.
  static bool exists(const std::string& dir);

  // Reads a directory written by save(). FormatError (naming file and field) for a malformed
  // meta.json, a digest mismatch (checked before FAISS parses anything), a file FAISS
  // rejects, or when `expected_fingerprint` (if non-empty) or `expected_dim` (if > 0) differ
  // from what the index was built with (the message names both values); IoError if a file
  // is missing. A directory written by an older format (version 1, no catalogue checksum) is
  // refused with a FormatError saying to rebuild it.
  //
  // With `mmap`, an IVF index's inverted lists (its codes and ids, nearly all of its bytes) are
  // memory-mapped from index.faiss instead of read: resident memory is then the quantizer and
  // codebooks, the id map (about 60 bytes per vector, see docs/SCALE.md) and whatever pages
  // searches touch, which the kernel may evict. index.faiss is still checksummed (streaming)
  // before it is mapped. A mapped index is read-only: add, remove and merge_from throw, and a
  // directory with live updates not yet checkpointed is refused (InvalidArgument, saying to
  // checkpoint). Other index types are read into memory as without `mmap`.
  static Index load(const std::string& dir, const std::string& expected_fingerprint = "", int expected_dim = -1,
                    bool mmap = false);

 private:
  struct State;
  explicit Index(std::unique_ptr<State> state);
  // stage_items(dir, meta) stages the catalogue and records it in meta; empty: no catalogue.
  using StageItems = std::function<void(const std::string& dir, IndexMeta& meta)>;
  void save_unit(const std::string& dir, const StageItems& stage_items) const;
  std::unique_ptr<State> state_;
};

}  // namespace lrem
