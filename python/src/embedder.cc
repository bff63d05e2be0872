// lrem.Embedder: numpy matrices of query (reason / direct) and item embeddings.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "arguments.h"
#include "bindings.h"
#include "compute_call.h"
#include "lrem/embedder.h"
#include "lrem/error.h"
#include "util/progress.h"

namespace lrem::python {

namespace {

py::array_t<float> to_numpy(Embeddings&& e) {
  auto* data = new std::vector<float>(std::move(e.data));
  py::capsule owner(data, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({e.rows, e.dim}, {e.dim * int64_t(sizeof(float)), int64_t(sizeof(float))}, data->data(), owner);
}

}  // namespace

void bind_embedder(py::module_& m) {
  py::class_<CacheStats>(m, "CacheStats", "Counters of the embedder's CoT cache.")
      .def_readonly("hits", &CacheStats::hits)
      .def_readonly("misses", &CacheStats::misses)
      .def_readonly("size", &CacheStats::size)
      .def_readonly("capacity", &CacheStats::capacity)
      .def("__repr__", [](const CacheStats& s) {
        return "CacheStats(hits=" + std::to_string(s.hits) + ", misses=" + std::to_string(s.misses) +
               ", size=" + std::to_string(s.size) + ", capacity=" + std::to_string(s.capacity) + ")";
      });

  py::class_<Embedder>(m, "Embedder", R"doc(Query and item embeddings from one LLM, as LREM defines them.

In ``mode="reason"`` the model first writes a short chain of thought after ``<think>``
(at most ``max_cot_tokens`` tokens), then the hidden state at ``<emb>`` is the embedding.
``mode="direct"`` skips the reasoning (``<think></think><emb>``). Items are embedded
directly (``title <emb>``). Rows are L2-normalised float32.

    emb = lrem.Embedder(model)
    q, cots = emb.embed_queries(["shampoo without sulfates"], return_cots=True)
    items = emb.embed_items(["Herbal Essence Sulfate-Free Shampoo 400 ml"])
    scores = q @ items.T
)doc")
      .def(py::init([](const Model& model, int batch_size, int max_cot_tokens, float temperature, int top_k,
                       float top_p, uint64_t seed, int output_dim, size_t cot_cache_capacity, bool prefix_cache,
                       bool show_progress, const std::string& pooling, bool batching, int max_wait_ms) {
             // Python's one mapping of keywords to EmbedderOptions (Retriever.open forwards to it).
             EmbedderOptions o;
             o.batch_size = batch_size;
             o.max_cot_tokens = max_cot_tokens;
             o.temperature = temperature;
             o.top_k = top_k;
             o.top_p = top_p;
             o.seed = seed;
             o.output_dim = output_dim;
             o.cot_cache_capacity = cot_cache_capacity;
             o.prefix_cache = prefix_cache;
             o.pooling = parse_pooling(pooling);
             o.batching = batching;
             o.max_wait_ms = max_wait_ms;
             o.progress = between_batches(show_progress);
             return Embedder(model, o);
           }),
           py::arg("model"), py::kw_only(), py::arg("batch_size") = 32, py::arg("max_cot_tokens") = 0,
           py::arg("temperature") = 0.0f, py::arg("top_k") = 0, py::arg("top_p") = 1.0f, py::arg("seed") = 0,
           py::arg("output_dim") = 0, py::arg("cot_cache_capacity") = 4096, py::arg("prefix_cache") = true,
           py::arg("show_progress") = false, py::arg("pooling") = "last", py::arg("batching") = false,
           py::arg("max_wait_ms") = 0,
           "max_cot_tokens=0 uses the model's setting (16 by default); output_dim=0 keeps the full size; "
           "pooling=\"last\" takes the <emb> state (LREM), \"mean\" the mean over every token. "
           "batching=True: calls from many threads share forward passes (continuous batching: a reason-mode "
           "query joins the others' decode steps), each query getting what it gets alone; a call that finds the model idle waits "
           "max_wait_ms for company.")
      .def(
          "embed_queries",
          [](const Embedder& self, const py::object& texts, const std::string& mode, bool return_cots) -> py::object {
            std::vector<std::string> q = as_texts(texts, "texts");
            QueryMode qm = parse_query_mode(mode);
            Embeddings e;
            {
              ComputeCall call;
              e = self.embed_queries(q, qm);
            }
            std::vector<std::string> cots = e.cots;
            py::array_t<float> arr = to_numpy(std::move(e));
            if (return_cots) return py::make_tuple(arr, cots);
            return arr;
          },
          py::arg("texts"), py::kw_only(), py::arg("mode") = "reason", py::arg("return_cots") = false,
          "Embed queries: an (n, dim) float32 array, plus the list of CoTs if return_cots.")
      .def(
          "embed_queries_with_cots",
          [](const Embedder& self, const std::vector<std::string>& texts, const std::vector<std::string>& cots) {
            Embeddings e;
            {
              ComputeCall call;
              e = self.embed_queries_with_cots(texts, cots);
            }
            return to_numpy(std::move(e));
          },
          py::arg("texts"), py::arg("cots"),
          "Embed queries with given chains of thought (e.g. a teacher's) instead of generating them: "
          "query <think> cot </think><emb>. An empty CoT is direct mode. An (n, dim) float32 array.")
      .def(
          "embed_items",
          [](const Embedder& self, const py::object& titles) {
            std::vector<std::string> t = as_texts(titles, "titles");
            Embeddings e;
            {
              ComputeCall call;
              e = self.embed_items(t);
            }
            return to_numpy(std::move(e));
          },
          py::arg("titles"), "Embed item titles: an (n, dim) float32 array.")
      .def_property_readonly("dim", &Embedder::dim)
      .def_property_readonly("pooling", [](const Embedder& self) { return to_string(self.options().pooling); })
      .def_property_readonly("model", &Embedder::model)
      .def_property_readonly("fingerprint", &Embedder::fingerprint,
                             "Names the embedding space (model fingerprint, plus the pooling if not the "
                             "default); indexes record it and refuse another")
      .def_property_readonly("cot_cache_stats", &Embedder::cot_cache_stats)
      .def("clear_cot_cache", &Embedder::clear_cot_cache)
      .def("__repr__", [](const Embedder& self) { return "Embedder(dim=" + std::to_string(self.dim()) + ")"; });
}

}  // namespace lrem::python
