#include "bindings.h"

PYBIND11_MODULE(_lrem, m) {
  m.doc() = "lrem: reasoning-augmented embedding retrieval (C++ core)";
  lrem::python::bind_errors(m);
  lrem::python::bind_tokenizer(m);
  lrem::python::bind_model(m);
}
