// lrem.evaluate (a system over judged queries, see include/lrem/evaluation.h) and
// lrem.curate_triplets (stage-1 triplet curation with any Python teacher, see curation.h).
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>

#include "bindings.h"
#include "lrem/curation.h"
#include "lrem/error.h"
#include "lrem/evaluation.h"
#include "lrem/teacher.h"
#include "util/progress.h"

namespace lrem::python {

namespace {

bool is_path(const py::handle& h) {
  return py::isinstance<py::str>(h) || py::isinstance(h, py::module_::import("os").attr("PathLike"));
}

std::string path_of(const py::handle& h) { return h.cast<std::filesystem::path>().string(); }

// A path to queries.jsonl, or dicts {"id", "text"[, "category"]} as read_queries returns.
std::vector<Query> queries_from(const py::handle& queries) {
  if (is_path(queries)) return read_queries(path_of(queries));
  std::vector<Query> out;
  for (const py::handle& h : queries.cast<py::iterable>()) {
    auto d = h.cast<py::dict>();
    if (!d.contains("id") || !d.contains("text")) throw InvalidArgument("a query dict needs \"id\" and \"text\"");
    out.push_back({py::str(d["id"]), d["text"].cast<std::string>(),
                   d.contains("category") ? d["category"].cast<std::string>() : ""});
  }
  return out;
}

// A path to qrels.jsonl, or dicts / tuples as evaluate_rankings takes them.
std::vector<Qrel> qrels_from(const py::handle& qrels) {
  if (is_path(qrels)) return read_qrels(path_of(qrels));
  std::vector<Qrel> out;
  for (const py::handle& h : qrels.cast<py::iterable>()) out.push_back(qrel_from(h));
  return out;
}

py::dict query_dict(const Query& q) {
  return py::dict(py::arg("id") = q.id, py::arg("text") = q.text, py::arg("category") = q.category);
}

std::function<void(size_t, size_t)> progress(bool show, const char* what) {
  return show ? progress_reporter(what) : nullptr;
}

}  // namespace

void bind_evaluation(py::module_& m) {
  py::class_<EvaluationRun>(m, "EvaluationRun", "A system's run over judged queries: metrics, rankings and CoTs.")
      .def_readonly("system", &EvaluationRun::system)
      .def_readonly("report", &EvaluationRun::report)
      .def_readonly("seconds", &EvaluationRun::seconds)
      .def_property_readonly(
          "rankings",
          [](const EvaluationRun& r) {
            py::list out;
            for (const QueryRun& q : r.queries)
              out.append(py::dict(py::arg("query_id") = q.query_id, py::arg("category") = q.category,
                                  py::arg("cot") = q.cot, py::arg("item_ids") = q.item_ids, py::arg("scores") = q.scores));
            return out;
          },
          "One dict per query, in input order: query_id, category, cot, item_ids (best first), scores.")
      .def_property_readonly("overall", [](const EvaluationRun& r) { return r.report.groups.at(MetricsReport::kOverall).metrics; })
      .def("to_json", &EvaluationRun::to_json, py::arg("include_per_query") = false, py::arg("indent") = 2)
      .def("rankings_jsonl", &EvaluationRun::rankings_jsonl)
      .def("__str__", [](const EvaluationRun& r) { return "system: " + r.system + "\n" + r.report.format_table(); });

  m.def(
      "evaluate",
      [](const py::object& system, const py::object& queries, const py::object& qrels, const std::string& mode,
         const std::string& cot_source, const std::vector<int>& ks, int ndcg_k, int relevance_threshold, int depth,
         uint64_t seed, size_t chunk_size, bool show_progress) {
        SystemEvaluationOptions o;
        o.cot_source = cot_source_for(parse_query_mode(mode), parse_cot_source(cot_source));
        o.metrics = {ks, ndcg_k, relevance_threshold};
        o.depth = depth;
        o.seed = seed;
        o.chunk_size = chunk_size;
        o.progress = progress(show_progress, "queries");
        const std::vector<Query> q = queries_from(queries);
        const std::vector<Qrel> j = qrels_from(qrels);
        if (py::isinstance<Bm25>(system)) {
          const Bm25& bm25 = system.cast<const Bm25&>();
          py::gil_scoped_release release;
          return evaluate_system(bm25, q, j, o);
        }
        if (py::isinstance<Retriever>(system)) {
          const Retriever& retriever = system.cast<const Retriever&>();
          py::gil_scoped_release release;
          return evaluate_system(retriever, q, j, o);
        }
        throw InvalidArgument("evaluate: system must be an lrem.Retriever or an lrem.BM25");
      },
      py::arg("system"), py::arg("queries"), py::arg("qrels"), py::kw_only(), py::arg("mode") = "reason",
      py::arg("cot_source") = "generated", py::arg("ks") = std::vector<int>{1, 5, 10, 50, 100}, py::arg("ndcg_k") = 10,
      py::arg("relevance_threshold") = 1, py::arg("depth") = 0, py::arg("seed") = 0, py::arg("chunk_size") = 256,
      py::arg("show_progress") = false,
      R"doc(Runs a system over judged queries and scores it per category and overall.

``system``: an ``lrem.Retriever`` (any model, pooling, CoT cap) or an ``lrem.BM25`` over the
same items. ``queries`` / ``qrels``: paths to JSON Lines files, or the dicts ``read_queries`` /
``read_qrels`` return. ``mode="direct"`` embeds without a CoT; in reason mode ``cot_source``
picks the CoT: ``"generated"`` (LREM), ``"empty"`` (= direct), ``"random"`` (as many random
catalogue words as the generated CoT, seeded by ``seed``) or ``"query"`` (the query itself).
Returns an ``EvaluationRun``: ``.report`` (a MetricsReport with HitRate@K = Recall@K,
Precision@K, MRR, NDCG), ``.rankings``, ``.overall``, ``.seconds``.

    run = lrem.evaluate(retriever, "queries_test.jsonl", "qrels_test.jsonl")
    print(run.report.format_table())
)doc");

  py::class_<CurationResult>(m, "CurationResult", "Curated stage-1 triplets and how many queries got through.")
      .def_property_readonly("triplets",
                             [](const CurationResult& r) {
                               py::list out;
                               for (const CuratedTriplet& t : r.triplets)
                                 out.append(py::dict(py::arg("query_id") = t.query_id, py::arg("query") = t.query,
                                                     py::arg("cot") = t.cot, py::arg("item_id") = t.item_id,
                                                     py::arg("item") = t.item, py::arg("category") = t.category));
                               return out;
                             })
      .def_property_readonly("stats",
                             [](const CurationResult& r) {
                               const CurationStats& s = r.stats;
                               return py::dict(py::arg("queries") = s.queries, py::arg("with_cot") = s.with_cot,
                                               py::arg("kept") = s.kept, py::arg("triplets") = s.triplets);
                             })
      .def("to_jsonl", &CurationResult::to_jsonl)
      .def(
          "save",
          [](const CurationResult& r, const std::filesystem::path& path) {
            py::gil_scoped_release release;
            r.save(path.string());
          },
          py::arg("path"), "Write the triplets as stage-1 JSON Lines, atomically.")
      .def("__len__", [](const CurationResult& r) { return r.triplets.size(); });

  m.def("clean_cot", &clean_cot, py::arg("query"), py::arg("keywords"), py::arg("stop_words") = english_stop_words(),
        py::arg("model") = nullptr,
        "The curation rules: drop repeated words, words of the query and stop words (compared through the BM25 "
        "analyzer); returns the kept words joined by spaces. With ``model`` (the backbone to be trained), words "
        "stop before the CoT exceeds its ``max_cot_tokens`` tokens.");

  m.def(
      "curate_triplets",
      [](const py::object& queries, const py::object& qrels, const ItemStore& items, const py::object& teacher,
         const py::object& baseline, int k, const std::optional<std::vector<std::string>>& stop_words,
         int relevance_threshold, bool show_progress, const Model* model) {
        CurationOptions o;
        o.k = k;
        o.backbone = model;
        if (stop_words) o.stop_words = *stop_words;
        o.relevance_threshold = relevance_threshold;
        o.progress = progress(show_progress, "queries");
        const std::vector<Query> q = queries_from(queries);
        const std::vector<Qrel> j = qrels_from(qrels);
        // The teacher runs Python code: it takes the GIL for each call. Declared before the
        // release below so the captured object is freed with the GIL held.
        Teacher t;
        if (is_path(teacher)) {
          t = read_teacher_cots(path_of(teacher));
        } else if (py::isinstance<KeywordTeacher>(teacher)) {
          KeywordTeacher& llm = teacher.cast<KeywordTeacher&>();
          py::gil_scoped_release release;
          t = llm.teacher(q);
        } else if (PyCallable_Check(teacher.ptr())) {
          t = [teacher](const Query& query) {
            py::gil_scoped_acquire gil;
            py::object words = teacher(query_dict(query));
            if (words.is_none()) return std::vector<std::string>{};
            if (py::isinstance<py::str>(words)) return std::vector<std::string>{words.cast<std::string>()};
            return words.cast<std::vector<std::string>>();
          };
        } else {
          throw InvalidArgument(
              "curate_triplets: teacher must be a callable (query dict -> keywords), an lrem.KeywordTeacher or a path");
        }
        std::optional<Bm25> own_bm25;
        std::unique_ptr<BaselineRetriever> base;
        if (py::isinstance<py::str>(baseline) && baseline.cast<std::string>() == "bm25") {
          py::gil_scoped_release release;
          own_bm25.emplace(Bm25::from_items(items.items()));
          base = std::make_unique<Bm25Baseline>(*own_bm25);
        } else if (py::isinstance<Bm25>(baseline)) {
          base = std::make_unique<Bm25Baseline>(baseline.cast<const Bm25&>());
        } else if (py::isinstance<Retriever>(baseline)) {
          base = std::make_unique<DirectEmbeddingBaseline>(baseline.cast<const Retriever&>());
        } else {
          throw InvalidArgument("curate_triplets: baseline must be \"bm25\", an lrem.BM25 or an lrem.Retriever (direct mode)");
        }
        py::gil_scoped_release release;
        return curate_triplets(q, j, items, t, *base, o);
      },
      py::arg("queries"), py::arg("qrels"), py::arg("items"), py::arg("teacher"), py::kw_only(),
      py::arg("baseline") = "bm25", py::arg("k") = 50, py::arg("stop_words") = py::none(),
      py::arg("relevance_threshold") = 1, py::arg("show_progress") = false, py::arg("model") = nullptr,
      R"doc(Curates stage-1 triplets as the LREM paper does.

``teacher(query) -> keywords``: called once per query with its dict (``id``, ``text``,
``category``), returning a list of keywords or a string (``None``: no CoT); an
``lrem.KeywordTeacher`` (a teacher LLM, asked for every query first); or a path to JSON
Lines of ``{"query_id" or "query", "cot"}``. The keywords are cleaned (``clean_cot``; the stop
list defaults to ``english_stop_words()``; ``model``, the backbone to be trained, caps each CoT at
its ``max_cot_tokens`` tokens). The baseline (``"bm25"``, an ``lrem.BM25``, or an
``lrem.Retriever`` used in direct mode) retrieves the top ``k`` for the query and for
"query CoT"; every relevant item only the latter finds becomes a triplet. Returns a
``CurationResult`` (``.triplets``, ``.stats``, ``.save(path)``).
)doc");
}

}  // namespace lrem::python
