// lrem.BM25: the lexical baseline over item titles.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>

#include "bindings.h"
#include "lrem/bm25.h"

namespace lrem::python {

namespace {

py::tuple to_numpy(const Bm25Result& r) {
  return py::make_tuple(py::array_t<double>(py::ssize_t(r.scores.size()), r.scores.data()),
                        py::array_t<int64_t>(py::ssize_t(r.ids.size()), r.ids.data()));
}

}  // namespace

void bind_bm25(py::module_& m) {
  m.def("bm25_tokenize", &bm25_tokenize, py::arg("text"),
        "The BM25 analyzer: lower-cased ASCII letters/digits and non-ASCII bytes form tokens.");
  m.def("english_stop_words", &english_stop_words, "A small English stop list for ``BM25(stop_words=...)``.");

  py::class_<Bm25>(m, "BM25", R"doc(
Okapi BM25 over short texts (item titles): ``BM25(ids, texts, k1=1.2, b=0.75, stop_words=None)``.

Scores sum, over the distinct query terms, idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))
with idf = ln(1 + (N - df + 0.5) / (df + 0.5)). Ties go to the smaller id. Immutable and
safe to search from several threads.
)doc")
      .def(py::init([](const std::vector<int64_t>& ids, const std::vector<std::string>& texts, double k1, double b,
                       const std::optional<std::vector<std::string>>& stop_words) {
             Bm25Options options{k1, b, stop_words.value_or(std::vector<std::string>{})};
             py::gil_scoped_release release;
             return Bm25(ids, texts, std::move(options));
           }),
           py::arg("ids"), py::arg("texts"), py::arg("k1") = 1.2, py::arg("b") = 0.75,
           py::arg("stop_words") = py::none())
      .def(
          "search",
          [](const Bm25& self, const std::string& query, int k) {
            Bm25Result r;
            {
              py::gil_scoped_release release;
              r = self.search(query, k);
            }
            return to_numpy(r);
          },
          py::arg("query"), py::arg("k") = 10,
          "Returns ``(scores, ids)`` for the documents sharing a term with the query (at most k).")
      .def(
          "search_many",
          [](const Bm25& self, const std::vector<std::string>& queries, int k, int num_threads) {
            std::vector<Bm25Result> results;
            {
              py::gil_scoped_release release;
              results = self.search_many(queries, k, num_threads);
            }
            py::list out;
            for (const auto& r : results) out.append(to_numpy(r));
            return out;
          },
          py::arg("queries"), py::arg("k") = 10, py::arg("num_threads") = 0,
          "``search`` for each query, in parallel; a list of ``(scores, ids)``.")
      .def("analyze", &Bm25::analyze, py::arg("text"), "Tokens of ``text`` after this index's stop list.")
      .def_property_readonly("k1", [](const Bm25& self) { return self.options().k1; })
      .def_property_readonly("b", [](const Bm25& self) { return self.options().b; })
      .def_property_readonly("vocabulary_size", &Bm25::vocabulary_size)
      .def("__len__", &Bm25::size);
}

}  // namespace lrem::python
