// lrem::Error and its subclasses become Python exceptions with the same names. Each also
// derives from the matching built-in (ValueError, OSError...) so generic handlers work.
#include <pybind11/pybind11.h>

#include <new>
#include <string>

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
    } catch (const py::error_already_set&) {
      throw;  // a Python exception on its way back (KeyboardInterrupt from a signal check...)
    } catch (const py::cast_error& e) {
      PyErr_SetString(invalid.ptr(), e.what());  // an argument of the wrong type inside a call
    } catch (const py::builtin_exception&) {
      throw;  // pybind11's deliberate IndexError, StopIteration...
    } catch (const std::bad_alloc&) {
      throw;  // MemoryError
    } catch (const std::exception& e) {
      // Anything else (a libtorch c10::Error...) is still lrem failing as the caller sees it;
      // libtorch appends a C++ backtrace that means nothing to a Python user.
      std::string message = e.what();
      message = message.substr(0, message.find("\nException raised from"));
      PyErr_SetString(error.ptr(), message.c_str());
    }
  });
}

}  // namespace lrem::python
