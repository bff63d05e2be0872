// lrem.Retriever: search a catalogue with reasoning; lrem.build_index / save_index.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>

#include "arguments.h"
#include "bindings.h"
#include "lrem/error.h"
#include "compute_call.h"
#include "lrem/retriever.h"

namespace lrem::python {

namespace {

using Path = std::filesystem::path;

py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

// Retriever.add_items / update_items: item dicts in, the titles embedded without the GIL.
auto change_items(void (Retriever::*apply)(const std::vector<Item>&)) {
  return [apply](Retriever& self, const py::iterable& items) {
    const std::vector<Item> list = items_from_list(items);
    ComputeCall call;
    (self.*apply)(list);
  };
}

}  // namespace

void bind_retriever(py::module_& m) {
  py::class_<SearchHit>(m, "SearchHit", "One retrieved item: id, cosine score, title and its other fields.")
      .def_readonly("id", &SearchHit::id)
      .def_readonly("score", &SearchHit::score)
      .def_readonly("title", &SearchHit::title)
      .def_property_readonly("fields", [](const SearchHit& h) { return json_loads(h.extra_json); })
      .def("__repr__", [](const SearchHit& h) {
        return "SearchHit(id=" + std::to_string(h.id) + ", score=" + std::to_string(h.score) + ", title=" +
               py::repr(py::str(h.title)).cast<std::string>() + ")";
      });

  py::class_<SearchResponse>(m, "SearchResponse", "A query's results and the reasoning that produced them.")
      .def_readonly("query", &SearchResponse::query)
      .def_property_readonly("mode", [](const SearchResponse& r) { return to_string(r.mode); })
      .def_readonly("cot", &SearchResponse::cot)
      .def_readonly("truncated", &SearchResponse::truncated)
      .def_readonly("hits", &SearchResponse::hits)
      .def("__repr__", [](const SearchResponse& r) {
        return "SearchResponse(query=" + py::repr(py::str(r.query)).cast<std::string>() +
               ", cot=" + py::repr(py::str(r.cot)).cast<std::string>() + ", hits=" + std::to_string(r.hits.size()) + ")";
      });

  py::class_<Retriever>(m, "Retriever", R"doc(Search over a catalogue: reason, embed, look up the index.

    r = lrem.Retriever.open("model_dir", "index_dir")
    res = r.search("gift for a toddler who loves trucks", k=5)
    print(res.cot)
    for hit in res.hits:
        print(hit.score, hit.title)

Thread-safe: several Python threads may search at once (the GIL is released).
)doc")
      .def(py::init([](Embedder embedder, std::shared_ptr<Index> index, ItemStore items,
                       const py::object& auto_min_score) {
             std::optional<AutoRouting> routing;
             if (!auto_min_score.is_none())
               routing = AutoRouting{static_cast<float>(as_number(auto_min_score, "auto_min_score"))};
             return Retriever(std::move(embedder), std::move(index), std::move(items), routing);
           }),
           py::arg("embedder"), py::arg("index"), py::arg("items"), py::kw_only(), py::arg("auto_min_score") = py::none(),
           "The retriever shares the embedder, the index and the item store with the caller; change the catalogue "
           "with add_items / update_items / remove_items, which update both together. "
           "auto_min_score: for mode=\"auto\", the best direct-mode score below which a query is searched again "
           "with reasoning (choose it on a dev split: scripts/fit_router.py).")
      .def_static(
          "open",
          [](const py::object& model, const Path& index_dir, const std::optional<Path>& items,
             const std::string& dtype, bool mmap, const py::kwargs& embedder_options) {
            py::object embedder = model;
            if (!py::isinstance<Embedder>(model)) {
              py::object loaded = model;
              if (!py::isinstance<Model>(model))
                loaded = py::type::of<Model>().attr("load")(py::module_::import("os").attr("fspath")(model),
                                                            py::arg("dtype") = dtype);
              // lrem.Embedder's keywords are Python's one mapping to EmbedderOptions.
              embedder = py::type::of<Embedder>()(loaded, **embedder_options);
            } else if (!embedder_options.empty()) {
              throw InvalidArgument("Retriever.open: embedder options apply when opening with a model; this "
                                    "lrem.Embedder already has its own");
            }
            Embedder e = embedder.cast<Embedder>();
            py::gil_scoped_release release;
            return Retriever::open(index_dir.string(), std::move(e), items ? items->string() : "", mmap);
          },
          py::arg("model"), py::arg("index_dir"), py::kw_only(), py::arg("items") = py::none(), py::arg("dtype") = "float32",
          py::arg("mmap") = false,
          "Open an index directory (from save_index or `lrem index build`) for searching. model: a model "
          "directory (loaded with dtype as in Model.load), an lrem.Model or an lrem.Embedder. "
          "Other keywords are lrem.Embedder's (batch_size, max_cot_tokens, pooling, output_dim, ...) and must "
          "match how the index was built. items default to the catalogue saved with the index (its item database, updated in place by add_items...; or a JSON Lines file read into memory). "
          "The index directory's router.json, if any, sets the threshold of mode=\"auto\". mmap=True maps an IVF "
          "index's inverted lists from disk instead of reading them (bounded resident memory, read-only: "
          "no live updates; docs/SCALE.md).")
      .def(
          "search",
          [](const Retriever& self, const py::object& query, int k, const std::string& mode) {
            if (!py::isinstance<py::str>(query))
              throw InvalidArgument("query must be a str (search_many takes a list), got " +
                                    py::repr(query).cast<std::string>().substr(0, 80));
            const std::string text = query.cast<std::string>();
            QueryMode qm = parse_query_mode(mode);
            ComputeCall call;
            return self.search(text, k, qm);
          },
          py::arg("query"), py::kw_only(), py::arg("k") = 10, py::arg("mode") = "reason",
          "mode: \"reason\" (generate a CoT, then embed), \"direct\" (embed the query alone) or \"auto\" (direct, "
          "then reason if the best direct hit scores below the retriever's threshold); the response's mode says "
          "which ran.")
      .def(
          "search_many",
          [](const Retriever& self, const py::object& queries, int k, const std::string& mode) {
            const std::vector<std::string> texts = as_texts(queries, "queries");
            QueryMode qm = parse_query_mode(mode);
            ComputeCall call;
            return self.search_many(texts, k, qm);
          },
          py::arg("queries"), py::kw_only(), py::arg("k") = 10, py::arg("mode") = "reason")
      .def(
          "add_items",
          change_items(&Retriever::add_items),
          py::arg("items"),
          "Add item dicts {\"id\", \"title\", ...} to the catalogue without a rebuild: their titles are embedded, then "
          "the store and the index change together (all or nothing; InvalidArgument for an id already present). "
          "Durable on return for a retriever opened on an index directory.")
      .def(
          "update_items",
          change_items(&Retriever::update_items),
          py::arg("items"), "Replace items (same ids, new title or fields) in the store and the index; InvalidArgument "
          "for an absent id.")
      .def(
          "remove_items",
          [](Retriever& self, const std::vector<int64_t>& ids) {
            ComputeCall call;
            self.remove_items(ids);
          },
          py::arg("ids"), "Remove items from the store and the index; InvalidArgument for an absent id.")
      .def(
          "checkpoint",
          [](const Retriever& self) {
            ComputeCall call;
            self.checkpoint();
          },
          "Save the index into its directory so that opening it replays no update log.")
      .def_property_readonly("embedder", &Retriever::embedder, py::return_value_policy::reference_internal)
      .def_property_readonly("items", &Retriever::items, py::return_value_policy::reference_internal)
      .def_property_readonly(
          "auto_min_score",
          [](const Retriever& self) -> std::optional<float> {
            if (!self.routing()) return std::nullopt;
            return self.routing()->min_direct_score;
          },
          "The threshold of mode=\"auto\" (None: auto is refused).");

  m.def(
      "build_index",
      [](const Embedder& embedder, const ItemStore& items, const std::string& factory,
         std::optional<int> ef_construction) {
        ComputeCall call;
        Index index(embedder.dim(), factory);
        if (ef_construction) index.set_ef_construction(*ef_construction);
        return build_index(embedder, items, std::move(index));
      },
      py::arg("embedder"), py::arg("items"), py::kw_only(), py::arg("factory") = "Flat",
      py::arg("ef_construction") = py::none(),
      "Embed every item and build an index (IVF/PQ factories are trained on the item vectors).\n\n"
      "``ef_construction`` sets HNSW's construction breadth (FAISS default 40); M is the factory's number (HNSW32).");
  m.def(
      "save_index",
      [](const Index& index, const ItemStore& items, const Path& dir, bool overwrite) {
        py::gil_scoped_release release;
        save_index(index, items, dir.string(), overwrite);
      },
      py::arg("index"), py::arg("items"), py::arg("path"), py::kw_only(), py::arg("overwrite") = false,
      "Save the index and its catalogue (<path>/items.sqlite) as one unit, so Retriever.open(model_dir, path) "
      "works; meta.json records the index's SHA-256 and the catalogue's id and version. Raises InvalidArgument if path already holds an index, "
      "unless overwrite=True.");
}

}  // namespace lrem::python
