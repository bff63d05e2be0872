// Search over a catalogue: an embedder turns the query into a vector (reasoning first, in
// reason mode), the index finds the nearest items, the item store supplies their titles.
//
//   auto r = lrem::Retriever::open("index_dir", lrem::Model::load("model_dir"));
//   auto res = r.search("gift for a toddler who loves trucks", 10);
//   // res.cot: what the model reasoned; res.hits: id, score, title, extra fields
//
// Thread safety: search/search_many may be called from any number of threads at once, and
// with add_items/update_items/remove_items. The model weights are read-only; the index and
// the item store sit behind one lock (shared per search, exclusive per update), so a search
// sees the catalogue before or after an update, never between; the embedder's CoT cache has
// its own mutex. Concurrent results equal serial results.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lrem/dataset.h"
#include "lrem/embedder.h"
#include "lrem/index.h"

namespace lrem {

struct SearchHit {
  int64_t id = -1;
  float score = 0.0f;
  std::string title;
  std::string extra_json = "{}";
};

struct SearchResponse {
  std::string query;
  QueryMode mode = QueryMode::Reason;  // the mode that ran: reason or direct (never auto)
  std::string cot;         // the reasoning that produced the query embedding ("" in direct mode)
  bool truncated = false;  // the query was cut to the model's max_query_tokens
  std::vector<SearchHit> hits;  // best first; fewer than k if the index holds fewer items
};

// Adaptive reasoning (mode auto): every query is searched in direct mode first; a query whose
// best hit scores at least min_direct_score keeps those results (the model found items it is
// sure of, as for a query naming a product type the catalogue holds), the others are embedded
// again with reasoning. The threshold belongs to a model and catalogue: it is chosen on a dev
// split (scripts/fit_router.py) and stored as router.json in the index directory.
struct AutoRouting {
  float min_direct_score = 0.0f;

  // FormatError naming the field for anything but {"min_direct_score": number in [-1, 1], ...}.
  static AutoRouting from_json(const std::string& text, const std::string& source = "router.json");
};

class Catalogue;  // the index and the item store behind one lock (internal)

class Retriever {
 public:
  // InvalidArgument if the index dimension differs from the embedder's, or the index is
  // empty; FormatError if it was built with another model (fingerprints differ). Without
  // `routing`, mode auto is refused.
  Retriever(Embedder embedder, Index index, ItemStore items, std::optional<AutoRouting> routing = std::nullopt);
  // Shares the index and the item store (a handle, dataset.h) with the caller. Change the
  // catalogue through add_items/update_items/remove_items, which update both under one lock;
  // a caller changing them directly adds an item to the store before its vector to the index
  // (and removes it from the index first), else a search may find a vector without its item
  // (FormatError).
  Retriever(Embedder embedder, std::shared_ptr<Index> index, ItemStore items,
            std::optional<AutoRouting> routing = std::nullopt);

  // Opens an index directory (built by `lrem index build` or save_index) for an embedder:
  // the index must hold the embedder's space (fingerprint and dimension, else FormatError);
  // the items are the directory's item database (items.sqlite, updated in place by live
  // updates), or read into memory from `items_path` (JSON Lines) if given; the auto-mode
  // threshold from <index_dir>/router.json when there is one. `mmap`: map the index's inverted
  // lists from disk instead of reading them (Index::load; IVF indexes, read-only: live updates
  // are refused).
  static Retriever open(const std::string& index_dir, Embedder embedder, const std::string& items_path = "",
                        bool mmap = false);
  // The same with an embedder over `model` (the options must be those the index was built with).
  static Retriever open(const std::string& index_dir, const Model& model, const EmbedderOptions& options = {},
                        const std::string& items_path = "", bool mmap = false);

  // k in [1, Index::kMaxK]; k above the index size returns every item. Mode auto needs a
  // routing threshold (InvalidArgument saying how to fit one otherwise).
  SearchResponse search(const std::string& query, int k = 10, QueryMode mode = QueryMode::Reason) const;
  std::vector<SearchResponse> search_many(const std::vector<std::string>& queries, int k = 10,
                                          QueryMode mode = QueryMode::Reason) const;

  // Live catalogue updates, without a rebuild: the items' titles are embedded, then the store
  // and the index change together. All or nothing: InvalidArgument (nothing changed) for an
  // id already present (add) or absent (update, remove), an id twice in one call, an item
  // write_items would refuse, or an update/removal on an HNSW index (which cannot remove).
  // For a retriever opened on an index directory's own catalogue each call is durable when
  // it returns: one database transaction that also logs the index change, which loading the
  // directory replays (docs/SCALE.md, "Live updates"); otherwise the changes stay in memory.
  void add_items(const std::vector<Item>& items);
  void update_items(const std::vector<Item>& items);  // keeps each item's position in the store
  void remove_items(const std::vector<int64_t>& ids);
  // Saves the index into its directory with the catalogue version it holds, so that opening
  // it replays no log (searches go on meanwhile; updates wait). InvalidArgument if the
  // retriever was not opened from an index directory.
  void checkpoint() const;

  const Embedder& embedder() const;
  const Index& index() const;
  const ItemStore& items() const;
  const std::optional<AutoRouting>& routing() const;

  ~Retriever();
  Retriever(Retriever&&) noexcept;
  Retriever& operator=(Retriever&&) noexcept;

 private:
  Retriever(Embedder embedder, std::unique_ptr<Catalogue> catalogue, std::optional<AutoRouting> routing);
  void change_items(const std::vector<Item>& items, bool add);
  // Embeds queries[rows] in `mode` and fills out[rows] with their hits.
  void search_rows(const std::vector<std::string>& queries, const std::vector<size_t>& rows, int k, QueryMode mode,
                   std::vector<SearchResponse>& out) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Embeds every item of the store and builds an index with the given FAISS factory string
// (IVF/PQ indexes are trained on the item vectors). The index records the model fingerprint.
Index build_index(const Embedder& embedder, const ItemStore& items, const std::string& factory = "Flat");
// The same into an empty index made and tuned by the caller (e.g. HNSW efConstruction set).
// InvalidArgument if `index` already holds vectors or its dim is not the embedder's.
Index build_index(const Embedder& embedder, const ItemStore& items, Index index);

// Saves the index and its catalogue into `dir` as one unit (Index::save(dir, items)), so the
// directory is all a Retriever needs besides the model. InvalidArgument if `dir` already
// holds an index, unless `overwrite`: replacing a catalogue is never silent.
void save_index(const Index& index, const ItemStore& items, const std::string& dir, bool overwrite = false);

// The catalogue saved with the index in `index_dir`, verified against the items_sha256 that
// meta.json records: FormatError (saying to rebuild) for a mismatch, or when the index was
// saved without one.
ItemStore load_index_items(const std::string& index_dir);

}  // namespace lrem
