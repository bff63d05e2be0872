// lrem.evaluate_rankings: offline retrieval metrics (see include/lrem/metrics.h for the definitions).
#include <pybind11/stl.h>

#include <optional>

#include "bindings.h"
#include "lrem/error.h"
#include "lrem/metrics.h"

namespace lrem::python {

namespace {

// Query ids may be ints or strings on the Python side, as in the files.
std::string query_id(const py::handle& id) { return py::str(id); }

}  // namespace

Qrel qrel_from(const py::handle& h) {
  if (py::isinstance<py::dict>(h)) {
    auto d = h.cast<py::dict>();
    return {query_id(d["query_id"]), d["item_id"].cast<int64_t>(),
            d.contains("relevance") ? d["relevance"].cast<int>() : 1};
  }
  auto t = h.cast<py::sequence>();
  if (t.size() != 2 && t.size() != 3) {
    throw InvalidArgument("a qrel is a dict or a (query_id, item_id[, relevance]) tuple");
  }
  return {query_id(t[0]), t[1].cast<int64_t>(), t.size() == 3 ? t[2].cast<int>() : 1};
}

void bind_metrics(py::module_& m) {
  py::class_<MetricsReport>(m, "MetricsReport", "Metrics per group (\"overall\" and each category).")
      .def_readonly("metric_names", &MetricsReport::metric_names)
      .def_property_readonly("groups",
                             [](const MetricsReport& r) {
                               py::dict out;
                               for (const auto& [name, g] : r.groups) {
                                 py::dict d;
                                 d["num_queries"] = g.num_queries;
                                 for (const auto& [metric, value] : g.metrics) d[py::str(metric)] = value;
                                 out[py::str(name)] = d;
                               }
                               return out;
                             })
      .def_property_readonly("overall", [](const MetricsReport& r) { return r.groups.at(MetricsReport::kOverall).metrics; })
      .def_property_readonly("per_query",
                             [](const MetricsReport& r) {
                               py::list out;
                               for (const auto& q : r.per_query) {
                                 py::dict d(py::arg("query_id") = q.query_id, py::arg("category") = q.category);
                                 for (const auto& [metric, value] : q.metrics) d[py::str(metric)] = value;
                                 out.append(d);
                               }
                               return out;
                             })
      .def_readonly("queries_without_relevant", &MetricsReport::queries_without_relevant)
      .def_readonly("queries_without_ranking", &MetricsReport::queries_without_ranking)
      .def("to_json", &MetricsReport::to_json, py::arg("include_per_query") = false, py::arg("indent") = 2)
      .def("format_table", &MetricsReport::format_table)
      .def("__str__", &MetricsReport::format_table);

  m.def(
      "evaluate_rankings",
      [](const py::dict& rankings, const py::iterable& qrels, const std::optional<py::dict>& query_category,
         const std::vector<int>& ks, int ndcg_k, int relevance_threshold) {
        std::vector<RankedList> lists;
        for (const auto& [id, items] : rankings) {
          lists.push_back({query_id(id), items.cast<std::vector<int64_t>>()});
        }
        std::vector<Qrel> judgements;
        for (const auto& q : qrels) judgements.push_back(qrel_from(q));
        std::map<std::string, std::string> categories;
        if (query_category) {
          for (const auto& [id, category] : *query_category) categories[query_id(id)] = py::str(category);
        }
        EvaluationOptions options{ks, ndcg_k, relevance_threshold};
        py::gil_scoped_release release;
        return evaluate(lists, judgements, categories, options);
      },
      py::arg("rankings"), py::arg("qrels"), py::arg("query_category") = py::none(),
      py::arg("ks") = std::vector<int>{1, 5, 10, 50, 100}, py::arg("ndcg_k") = 10, py::arg("relevance_threshold") = 1,
      R"doc(Evaluates rankings against relevance judgements.

``rankings``: {query_id: sequence of item ids, best first} (e.g. rows of ``Index.search``'s
ids; -1 padding is ignored). ``qrels``: dicts as returned by ``read_qrels`` or
``(query_id, item_id[, relevance])`` tuples. ``query_category``: {query_id: category}.
Query ids are compared as strings. Returns a MetricsReport with HitRate@K (the LREM
paper's, i.e. recall@K), Precision@K, MRR and NDCG@ndcg_k, macro-averaged per category and
"overall".)doc");
}

}  // namespace lrem::python
