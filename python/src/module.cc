#include "bindings.h"

PYBIND11_MODULE(_lrem, m) {
  m.doc() = "lrem: reasoning-augmented embedding retrieval (C++ core)";
  lrem::python::bind_errors(m);
  lrem::python::bind_compute(m);
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
}
