#include "lrem/retriever.h"

#include <cmath>
#include <filesystem>

#include "lrem/error.h"
#include "retrieval/catalogue.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace lrem {

namespace {

constexpr const char* kRouterFile = "router.json";

// Scores are cosine similarities of normalised vectors: a threshold outside [-1, 1] (or NaN,
// which compares false) routes every query one way, which is never what was meant.
bool is_cosine(float score) { return std::isfinite(score) && score >= -1.0f && score <= 1.0f; }

}  // namespace

AutoRouting AutoRouting::from_json(const std::string& text, const std::string& source) {
  JsonDocument document(text, source);
  const JsonValue fields = document.object();
  const JsonValue score = fields.at("min_direct_score");
  AutoRouting routing;
  routing.min_direct_score = static_cast<float>(score.as_double());
  if (!is_cosine(routing.min_direct_score))
    score.fail("min_direct_score must be a cosine similarity in [-1, 1], got " + score.dump_short());
  return routing;
}

struct Retriever::Impl {
  Embedder embedder;
  std::unique_ptr<Catalogue> catalogue;
  std::optional<AutoRouting> routing;
};

Retriever::Retriever(Embedder embedder, Index index, ItemStore items, std::optional<AutoRouting> routing)
    : Retriever(std::move(embedder), std::make_shared<Index>(std::move(index)), std::move(items), routing) {}

Retriever::Retriever(Embedder embedder, std::shared_ptr<Index> index, ItemStore items,
                     std::optional<AutoRouting> routing)
    : Retriever(std::move(embedder),
                std::make_unique<Catalogue>(index ? std::move(index) : throw InvalidArgument(
                                                                           "Retriever needs an index, got a null pointer"),
                                            std::move(items)),
                routing) {}

Retriever::Retriever(Embedder embedder, std::unique_ptr<Catalogue> catalogue, std::optional<AutoRouting> routing) {
  if (routing && !is_cosine(routing->min_direct_score))
    throw InvalidArgument("the auto-mode threshold min_direct_score must be a cosine similarity in [-1, 1], got " +
                          std::to_string(routing->min_direct_score) + "; fit one with scripts/fit_router.py");
  impl_ = std::make_unique<Impl>(Impl{std::move(embedder), std::move(catalogue), routing});
  const Impl& m = *impl_;
  const Index& index = m.catalogue->index();
  if (index.dim() != m.embedder.dim())
    throw InvalidArgument("the index has dimension " + std::to_string(index.dim()) + " but the embedder produces " +
                          std::to_string(m.embedder.dim()) + "; rebuild the index with this model and output_dim");
  const std::string fingerprint = m.embedder.fingerprint();
  if (!index.model_fingerprint().empty() && index.model_fingerprint() != fingerprint)
    throw FormatError("the index was built for embeddings " + index.model_fingerprint() + " but this embedder makes " +
                      fingerprint + " (model fingerprint, plus the pooling if not the default); rebuild the index "
                      "with `lrem index build` and the same model and pooling");
  if (index.size() == 0) throw InvalidArgument("the index is empty: build it from a non-empty catalogue");
}

Retriever Retriever::open(const std::string& index_dir, Embedder embedder, const std::string& items_path, bool mmap) {
  auto index = std::make_shared<Index>(Index::load(index_dir, embedder.fingerprint(), embedder.dim(), mmap));
  std::optional<AutoRouting> routing;
  const std::string router_path = (std::filesystem::path(index_dir) / kRouterFile).string();
  if (std::filesystem::exists(router_path)) routing = AutoRouting::from_json(read_file(router_path, 1 << 16), router_path);
  // Only the directory's own catalogue is updated in place; a catalogue given as a file is
  // the caller's, and updates to it stay in memory.
  auto catalogue = items_path.empty()
                       ? std::make_unique<Catalogue>(std::move(index), load_index_items(index_dir), index_dir)
                       : std::make_unique<Catalogue>(std::move(index), ItemStore::load(items_path));
  return Retriever(std::move(embedder), std::move(catalogue), routing);
}

Retriever Retriever::open(const std::string& index_dir, const Model& model, const EmbedderOptions& options,
                          const std::string& items_path, bool mmap) {
  return open(index_dir, Embedder(model, options), items_path, mmap);
}

SearchResponse Retriever::search(const std::string& query, int k, QueryMode mode) const {
  return std::move(search_many({query}, k, mode).front());
}

std::vector<SearchResponse> Retriever::search_many(const std::vector<std::string>& queries, int k,
                                                   QueryMode mode) const {
  const Impl& m = *impl_;
  if (k <= 0) throw InvalidArgument("k must be positive, got " + std::to_string(k));
  if (k > Index::kMaxK)
    throw LimitExceeded("k = " + std::to_string(k) + " exceeds the limit of " + std::to_string(Index::kMaxK));
  if (mode == QueryMode::Auto && !m.routing)
    throw InvalidArgument("mode \"auto\" needs a routing threshold, and this retriever has none: fit one on a dev "
                          "split with scripts/fit_router.py, which writes router.json into the index directory "
                          "(C++: pass AutoRouting to the Retriever), or choose \"reason\" or \"direct\"");
  std::vector<SearchResponse> out(queries.size());
  if (queries.empty()) return out;
  const QueryMode first = mode == QueryMode::Auto ? QueryMode::Direct : mode;
  std::vector<size_t> all(queries.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  search_rows(queries, all, k, first, out);
  if (mode != QueryMode::Auto) return out;
  // An empty result (no hit) is as unsure as a low score.
  std::vector<size_t> unsure;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].hits.empty() || out[i].hits.front().score < m.routing->min_direct_score) unsure.push_back(i);
  if (!unsure.empty()) search_rows(queries, unsure, k, QueryMode::Reason, out);
  return out;
}

void Retriever::search_rows(const std::vector<std::string>& queries, const std::vector<size_t>& rows, int k,
                            QueryMode mode, std::vector<SearchResponse>& out) const {
  const Impl& m = *impl_;
  std::vector<std::string> texts;
  texts.reserve(rows.size());
  for (size_t row : rows) texts.push_back(queries[row]);
  Embeddings q = m.embedder.embed_queries(texts, mode);
  std::vector<std::vector<SearchHit>> hits = m.catalogue->search(q.data.data(), q.rows, k);
  for (size_t i = 0; i < rows.size(); ++i) {
    SearchResponse& r = out[rows[i]];
    r.query = queries[rows[i]];
    r.mode = mode;
    r.cot = q.cots[i];
    r.truncated = q.truncated[i];
    r.hits = std::move(hits[i]);
  }
}

void Retriever::change_items(const std::vector<Item>& items, bool add) {
  std::vector<std::string> titles;
  std::vector<ItemChange> changes;
  for (const Item& item : items) {
    titles.push_back(item.title);
    changes.push_back({add ? ItemChange::Kind::Add : ItemChange::Kind::Update, item});
  }
  if (changes.empty()) return;
  const Embeddings e = impl_->embedder.embed_items(titles);
  impl_->catalogue->apply(changes, e.data.data());
}

void Retriever::add_items(const std::vector<Item>& items) { change_items(items, true); }

void Retriever::update_items(const std::vector<Item>& items) { change_items(items, false); }

void Retriever::remove_items(const std::vector<int64_t>& ids) {
  std::vector<ItemChange> changes;
  for (int64_t id : ids) changes.push_back({ItemChange::Kind::Remove, Item{id, "", "{}"}});
  impl_->catalogue->apply(changes, nullptr);
}

void Retriever::checkpoint() const { impl_->catalogue->checkpoint(); }

const Embedder& Retriever::embedder() const { return impl_->embedder; }
const Index& Retriever::index() const { return impl_->catalogue->index(); }
const ItemStore& Retriever::items() const { return impl_->catalogue->items(); }
const std::optional<AutoRouting>& Retriever::routing() const { return impl_->routing; }

Retriever::~Retriever() = default;
Retriever::Retriever(Retriever&&) noexcept = default;
Retriever& Retriever::operator=(Retriever&&) noexcept = default;

Index build_index(const Embedder& embedder, const ItemStore& items, const std::string& factory) {
  return build_index(embedder, items, Index(embedder.dim(), factory));
}

Index build_index(const Embedder& embedder, const ItemStore& items, Index index) {
  if (items.empty()) throw InvalidArgument("cannot build an index from an empty catalogue");
  if (index.size() != 0) throw InvalidArgument("build_index needs an empty index, this one holds " + std::to_string(index.size()) + " vectors");
  if (index.dim() != embedder.dim())
    throw InvalidArgument("build_index: the index has dim " + std::to_string(index.dim()) + ", the embedder " +
                          std::to_string(embedder.dim()));
  Embeddings e = embedder.embed_items(items.titles());
  index.set_model_fingerprint(embedder.fingerprint());
  index.train(e.data.data(), e.rows, /*normalized=*/true);
  std::vector<int64_t> ids = items.ids();
  index.add(e.data.data(), ids.data(), e.rows, /*normalized=*/true);
  return index;
}

void save_index(const Index& index, const ItemStore& items, const std::string& dir, bool overwrite) {
  if (!overwrite && Index::exists(dir))
    throw InvalidArgument("'" + dir + "' already holds an index; pass overwrite=true (CLI: --overwrite) to replace "
                          "it and its catalogue, or choose another directory");
  index.save(dir, items);
}

}  // namespace lrem
