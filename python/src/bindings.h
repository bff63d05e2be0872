// The extension module `lrem._lrem` is assembled from one file per concept; each defines
// one of these functions. Compute-heavy calls release the GIL (py::gil_scoped_release).
#pragma once

#include <pybind11/pybind11.h>

#include "lrem/dataset.h"

namespace lrem::python {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_tokenizer(py::module_& m);
void bind_model(py::module_& m);
void bind_index(py::module_& m);
void bind_bm25(py::module_& m);
void bind_dataset(py::module_& m);
void bind_metrics(py::module_& m);
void bind_embedder(py::module_& m);
void bind_retriever(py::module_& m);
void bind_train(py::module_& m);
void bind_evaluation(py::module_& m);
void bind_teacher(py::module_& m);

// A judgement from Python: a dict {"query_id", "item_id"[, "relevance"]} or a
// (query_id, item_id[, relevance]) tuple; query ids may be ints or strings (python/src/metrics.cc).
Qrel qrel_from(const py::handle& qrel);
// Items from Python: an iterable of dicts {"id", "title", **other fields} (python/src/dataset.cc).
std::vector<Item> items_from_list(const py::iterable& items);

}  // namespace lrem::python
