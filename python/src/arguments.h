// Conversions of loosely typed Python arguments (a str or a list of str, a number given as
// anything) that raise lrem.InvalidArgument naming the argument, where pybind11's own
// conversion would fail overload resolution with a TypeError that names no argument.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace lrem::python {

namespace py = pybind11;

// A str is one text; a list (or other sequence) must hold only str.
std::vector<std::string> as_texts(const py::handle& texts, const char* what);
// A real number (int, float, numpy scalar); bool and str are refused.
double as_number(const py::handle& value, const char* what);

}  // namespace lrem::python
