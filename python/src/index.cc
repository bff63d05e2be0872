// lrem.Index: the FAISS cosine-similarity index, numpy in and out.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>

#include "bindings.h"
#include "lrem/error.h"
#include "lrem/index.h"

namespace lrem::python {

namespace {

using Path = std::filesystem::path;
using Floats = py::array_t<float, py::array::c_style | py::array::forcecast>;
using Ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// (n, dim) rows; a 1-D array of length dim is one row.
int64_t rows_of(const Floats& x, int dim, const char* what) {
  if (x.ndim() == 1 && x.shape(0) == dim) return 1;
  if (x.ndim() != 2 || x.shape(1) != dim) {
    std::string shape;
    for (py::ssize_t i = 0; i < x.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(x.shape(i));
    throw InvalidArgument(std::string(what) + " must have shape (n, " + std::to_string(dim) + "), got (" + shape + ")");
  }
  return x.shape(0);
}

int64_t ids_of(const Ids& ids, int64_t expected) {
  if (ids.ndim() != 1 || ids.shape(0) != expected) {
    throw InvalidArgument("ids must be a 1-D array of " + std::to_string(expected) + " integers");
  }
  return expected;
}

}  // namespace

void bind_index(py::module_& m) {
  py::class_<Index, std::shared_ptr<Index>>(m, "Index", R"doc(
A FAISS index for cosine similarity (inner product of L2-normalised vectors) whose items
carry their own int64 ids.

``factory`` is a FAISS index_factory string: "Flat" (exact), "HNSW32", "IVF256,Flat",
"IVF1024,PQ32"... IVF indexes must be trained with ``train`` before ``add``. Vectors are
normalised on the way in unless ``normalized=True``. Searches may run from many threads at
once; updates lock the index. The GIL is released while adding, training and searching.
)doc")
      .def(py::init<int, const std::string&>(), py::arg("dim"), py::arg("factory") = "Flat")
      .def(
          "train",
          [](Index& self, const Floats& vectors, bool normalized) {
            const int64_t n = rows_of(vectors, self.dim(), "vectors");
            py::gil_scoped_release release;
            self.train(vectors.data(), n, normalized);
          },
          py::arg("vectors"), py::arg("normalized") = false,
          "Trains an IVF/PQ index on (n, dim) vectors; does nothing if already trained.")
      .def(
          "add",
          [](Index& self, const Floats& vectors, const Ids& ids, bool normalized) {
            const int64_t n = ids_of(ids, rows_of(vectors, self.dim(), "vectors"));
            py::gil_scoped_release release;
            self.add(vectors.data(), ids.data(), n, normalized);
          },
          py::arg("vectors"), py::arg("ids"), py::arg("normalized") = false,
          R"doc(Adds (n, dim) vectors with their n int64 ids.

All or nothing: raises InvalidArgument for NaN/Inf or zero rows, negative or repeated ids,
ids already present, or an untrained index.)doc")
      .def(
          "search",
          [](const Index& self, const Floats& queries, int k, bool normalized) {
            const int64_t nq = rows_of(queries, self.dim(), "queries");
            SearchResult r;
            {
              py::gil_scoped_release release;
              r = self.search(queries.data(), nq, k, normalized);
            }
            Floats scores({py::ssize_t(nq), py::ssize_t(k)});
            Ids ids({py::ssize_t(nq), py::ssize_t(k)});
            std::copy(r.scores.begin(), r.scores.end(), scores.mutable_data());
            std::copy(r.ids.begin(), r.ids.end(), ids.mutable_data());
            return py::make_tuple(scores, ids);
          },
          py::arg("queries"), py::arg("k") = 10, py::arg("normalized") = false,
          R"doc(Returns ``(scores, ids)``, two (nq, k) arrays, best first.

Rows with fewer than k hits (k > len(index)) are padded with id -1 and score -inf.)doc")
      .def(
          "remove",
          [](Index& self, const Ids& ids) {
            if (ids.ndim() != 1) throw InvalidArgument("ids must be a 1-D array");
            py::gil_scoped_release release;
            return self.remove(ids.data(), ids.shape(0));
          },
          py::arg("ids"), "Removes these ids (absent ones are ignored); returns how many were removed.")
      .def("set_ef_search", &Index::set_ef_search, py::arg("ef_search"), "HNSW search breadth.")
      .def("set_ef_construction", &Index::set_ef_construction, py::arg("ef_construction"),
           "HNSW construction breadth for the vectors added after it (set it before ``add``).")
      .def_property_readonly("hnsw_m", &Index::hnsw_m, "HNSW graph degree M (from the factory string); 0 if not HNSW.")
      .def_property_readonly("ef_construction", &Index::ef_construction, "HNSW efConstruction; 0 if not HNSW.")
      .def_property_readonly("ef_search", &Index::ef_search, "HNSW efSearch; 0 if not HNSW.")
      .def("set_nprobe", &Index::set_nprobe, py::arg("nprobe"), "How many IVF lists a search visits.")
      .def(
          "save", [](const Index& self, const Path& dir) { self.save(dir.string()); }, py::arg("dir"),
          "Writes ``dir/index.faiss`` and ``dir/meta.json`` (with the file's SHA-256), each atomically.")
      .def_static(
          "load",
          [](const Path& dir, const std::optional<std::string>& expected_fingerprint, std::optional<int> expected_dim,
             bool mmap) {
            py::gil_scoped_release release;
            return Index::load(dir.string(), expected_fingerprint.value_or(""), expected_dim.value_or(-1), mmap);
          },
          py::arg("dir"), py::arg("expected_fingerprint") = py::none(), py::arg("expected_dim") = py::none(),
          py::kw_only(), py::arg("mmap") = false,
          R"doc(Loads an index saved by ``save`` (or built by ``lrem index build``).

mmap=True maps an IVF index's inverted lists (codes and ids) from ``index.faiss`` instead of
reading them, so resident memory stays bounded (docs/SCALE.md); such an index is read-only.

Raises FormatError for a corrupt or mismatched directory, including a different model
fingerprint or dimension than expected, and IoError if a file is missing.)doc")
      .def_property_readonly("dim", &Index::dim)
      .def_property_readonly("factory", &Index::factory)
      .def_property_readonly("is_trained", &Index::is_trained)
      .def_property("model_fingerprint", &Index::model_fingerprint, &Index::set_model_fingerprint,
                    "Identifies the model that produced the vectors; checked by ``load``.")
      .def("__len__", &Index::size)
      .def("__repr__", [](const Index& self) {
        return "Index(dim=" + std::to_string(self.dim()) + ", factory='" + self.factory() +
               "', size=" + std::to_string(self.size()) + ")";
      });
}

}  // namespace lrem::python
