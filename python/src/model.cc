// placeholder: Model bindings
#include "bindings.h"
namespace lrem::python { void bind_model(py::module_&) {} }
