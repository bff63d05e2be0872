"""Arguments of the wrong type raise an lrem error, as every other bad argument does.

pybind11 refuses an argument it cannot convert (``mmap="yes"``, a list holding a number) with a
plain ``TypeError`` ("incompatible function arguments") before any lrem code runs, so lrem's
exception translator never sees it and ``except lrem.Error`` misses it. Each public callable of
the extension is therefore wrapped once, at import, to raise :class:`ArgumentTypeError`, which is
both an ``lrem.InvalidArgument`` and a ``TypeError``: handlers written for either still work.
"""

import functools

from ._lrem import InvalidArgument


class ArgumentTypeError(InvalidArgument, TypeError):
    """An argument of the wrong type; the message lists the signatures the call accepts."""


# pybind11's wording for a call that matched no signature, of a function and of a constructor.
_UNMATCHED_CALL = ("incompatible function arguments", "incompatible constructor arguments")

# Special methods a user calls directly; the others (pickling, comparison...) are left as they are.
_CALLED_SPECIAL_METHODS = ("__init__", "__call__", "__getitem__", "__contains__")


def _translating(function):
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except TypeError as error:
            if isinstance(error, InvalidArgument) or not any(text in str(error) for text in _UNMATCHED_CALL):
                raise
            raise ArgumentTypeError(str(error)) from None

    return call


def _wrap_class(cls):
    for name, attribute in list(vars(cls).items()):
        if name.startswith("__") and name not in _CALLED_SPECIAL_METHODS:
            continue
        if isinstance(attribute, staticmethod):
            setattr(cls, name, staticmethod(_translating(getattr(cls, name))))
        elif type(attribute).__name__ == "instancemethod":  # pybind11's method objects
            setattr(cls, name, _translating(getattr(cls, name)))


def translate_argument_errors(namespace, names):
    """Wraps the extension's functions and classes' methods among ``namespace[name]``."""
    for name in names:
        value = namespace[name]
        if isinstance(value, type):
            if not issubclass(value, BaseException):
                _wrap_class(value)
        elif type(value).__name__ == "builtin_function_or_method":
            namespace[name] = _translating(value)
