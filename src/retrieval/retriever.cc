#include "lrem/retriever.h"

#include "lrem/error.h"

namespace lrem {

struct Retriever::Impl {
  Embedder embedder;
  std::shared_ptr<Index> index;
  ItemStore items;
};

Retriever::Retriever(Embedder embedder, Index index, ItemStore items)
    : Retriever(std::move(embedder), std::make_shared<Index>(std::move(index)), std::move(items)) {}

Retriever::Retriever(Embedder embedder, std::shared_ptr<Index> index, ItemStore items) {
  if (!index) throw InvalidArgument("Retriever needs an index, got a null pointer");
  impl_ = std::make_unique<Impl>(Impl{std::move(embedder), std::move(index), std::move(items)});
  const Impl& m = *impl_;
  if (m.index->dim() != m.embedder.dim())
    throw InvalidArgument("the index has dimension " + std::to_string(m.index->dim()) + " but the embedder produces " +
                          std::to_string(m.embedder.dim()) + "; rebuild the index with this model and output_dim");
  const std::string fingerprint = m.embedder.fingerprint();
  if (!m.index->model_fingerprint().empty() && m.index->model_fingerprint() != fingerprint)
    throw FormatError("the index was built for embeddings " + m.index->model_fingerprint() + " but this embedder makes " +
                      fingerprint + " (model fingerprint, plus the pooling if not the default); rebuild the index "
                      "with `lrem index build` and the same model and pooling");
  if (m.index->size() == 0) throw InvalidArgument("the index is empty: build it from a non-empty catalogue");
}

Retriever Retriever::open(const std::string& index_dir, Embedder embedder, const std::string& items_path) {
  Index index = Index::load(index_dir, embedder.fingerprint(), embedder.dim());
  return Retriever(std::move(embedder), std::move(index),
                   items_path.empty() ? load_index_items(index_dir) : ItemStore::load(items_path));
}

Retriever Retriever::open(const std::string& index_dir, const Model& model, const EmbedderOptions& options,
                          const std::string& items_path) {
  return open(index_dir, Embedder(model, options), items_path);
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
  std::vector<SearchResponse> out(queries.size());
  if (queries.empty()) return out;
  Embeddings q = m.embedder.embed_queries(queries, mode);
  SearchResult found = m.index->search(q.data.data(), q.rows, k, /*normalized=*/true);
  for (size_t i = 0; i < queries.size(); ++i) {
    SearchResponse& r = out[i];
    r.query = queries[i];
    r.mode = mode;
    r.cot = q.cots[i];
    r.truncated = q.truncated[i];
    const int64_t* ids = found.ids_of(static_cast<int64_t>(i));
    const float* scores = found.scores_of(static_cast<int64_t>(i));
    for (int j = 0; j < found.k && ids[j] >= 0; ++j) {
      const Item* item = m.items.find(ids[j]);
      if (!item)
        throw FormatError("the index returned item id " + std::to_string(ids[j]) +
                          " which is not in the item store; the index and items file do not match");
      r.hits.push_back({ids[j], scores[j], item->title, item->extra_json});
    }
  }
  return out;
}

const Embedder& Retriever::embedder() const { return impl_->embedder; }
const Index& Retriever::index() const { return *impl_->index; }
const ItemStore& Retriever::items() const { return impl_->items; }

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
