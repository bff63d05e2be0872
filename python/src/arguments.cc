#include "arguments.h"

#include <pybind11/stl.h>

#include "lrem/error.h"

namespace lrem::python {

namespace {

std::string shown(const py::handle& value) { return py::repr(value).cast<std::string>().substr(0, 80); }

}  // namespace

std::vector<std::string> as_texts(const py::handle& texts, const char* what) {
  if (py::isinstance<py::str>(texts)) return {texts.cast<std::string>()};
  try {
    return texts.cast<std::vector<std::string>>();
  } catch (const py::cast_error&) {
    throw InvalidArgument(std::string(what) + " must be a str or a list of str, got " + shown(texts));
  }
}

double as_number(const py::handle& value, const char* what) {
  // PyNumber_Float would also accept "0.5" and True: a threshold typed as either is a mistake.
  if (py::isinstance<py::str>(value) || py::isinstance<py::bool_>(value) || !PyNumber_Check(value.ptr()))
    throw InvalidArgument(std::string(what) + " must be a number, got " + shown(value));
  return py::float_(py::reinterpret_borrow<py::object>(value)).cast<double>();
}

}  // namespace lrem::python
