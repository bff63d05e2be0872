// lrem::Error and its subclasses become Python exceptions with the same names. Each also
// derives from the matching built-in (ValueError, OSError...) so generic handlers work.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "lrem/error.h"

namespace lrem::python {

void bind_errors(py::module_& m) {
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  error.doc() = "Base class of every error raised by lrem.";
  auto derived = [&](const char* name, PyObject* builtin, const char* doc) {
    py::object base = py::reinterpret_borrow<py::object>(py::tuple(py::make_tuple(error, py::handle(builtin))));
    py::object cls = py::reinterpret_steal<py::object>(
        PyErr_NewExceptionWithDoc((std::string("lrem.") + name).c_str(), doc, base.ptr(), nullptr));
    if (!cls) throw py::error_already_set();
    m.attr(name) = cls;
    return cls;
  };
  static py::object invalid = derived("InvalidArgument", PyExc_ValueError, "A bad argument or option.");
  static py::object io = derived("IoError", PyExc_OSError, "A file or directory could not be read or written.");
  static py::object format = derived("FormatError", PyExc_ValueError, "Malformed or inconsistent data from outside.");
  static py::object limit = derived("LimitExceeded", PyExc_ValueError, "An input exceeded a documented limit.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(invalid.ptr(), e.what());
    } catch (const IoError& e) {
      PyErr_SetString(io.ptr(), e.what());
    } catch (const FormatError& e) {
      PyErr_SetString(format.ptr(), e.what());
    } catch (const LimitExceeded& e) {
      PyErr_SetString(limit.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
}

}  // namespace lrem::python
