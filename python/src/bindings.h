// The extension module `lrem._lrem` is assembled from one file per concept; each defines
// one of these functions. Compute-heavy calls release the GIL (py::gil_scoped_release).
#pragma once

#include <pybind11/pybind11.h>

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

}  // namespace lrem::python
