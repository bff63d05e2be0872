#include <pybind11/numpy.h>

#include "bindings.h"

PYBIND11_MODULE(_lrem, m) {
  m.doc() = "lrem: reasoning-augmented embedding retrieval (C++ core)";
  // pybind11 looks numpy's C API up on first use, inside a C++ static initialiser that
  // imports numpy: when two threads make their first array at once, one waits on the
  // initialiser holding the GIL while the other needs the GIL to finish it. Do it now.
  lrem::python::py::array_t<float>(0);
  lrem::python::bind_errors(m);
  lrem::python::bind_tokenizer(m);
  lrem::python::bind_model(m);
  lrem::python::bind_index(m);
  lrem::python::bind_bm25(m);
  lrem::python::bind_dataset(m);
  lrem::python::bind_metrics(m);
  lrem::python::bind_embedder(m);
  lrem::python::bind_retriever(m);
  lrem::python::bind_train(m);
  lrem::python::bind_evaluation(m);
  lrem::python::bind_teacher(m);
}
