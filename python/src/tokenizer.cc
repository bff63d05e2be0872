// placeholder: being written by the tokenizer helper
#include "bindings.h"
namespace lrem::python { void bind_tokenizer(py::module_&) {} }
