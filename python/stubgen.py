"""Writes lrem/_lrem.pyi from the compiled extension's own signatures.

pybind11 puts each callable's signature on the first line(s) of its docstring; turning those
into a stub at build time keeps the stub in step with the bindings (a hand-written one would
drift). Run by CMake after the extension is built:  python3 stubgen.py <package dir>
"""

import importlib
import inspect
import re
import sys
from pathlib import Path

MODULE = "lrem._lrem"
HEADER = '"""Type stubs for lrem._lrem, generated from the extension by python/stubgen.py."""\n\n' \
         "from __future__ import annotations\n\nimport os\nimport typing\n\nimport numpy\n\n"


def clean(sig):
    sig = sig.replace("lrem._lrem.", "").replace("_lrem.", "")
    sig = re.sub(r"numpy\.ndarray\[[^\]]*\]", "numpy.ndarray", sig)
    sig = re.sub(r"\bos\.PathLike\b", "os.PathLike[str]", sig)
    # Defaults that are reprs of C++ objects are not valid Python: use `...`.
    sig = re.sub(r"= <[^>]*>", "= ...", sig)
    sig = re.sub(r"= (\w+\.)+\w+\([^)]*\)", "= ...", sig)
    return sig


def signatures(name, doc):
    """Each `name(...) -> ret` signature in a pybind11 docstring (several when overloaded)."""
    if not doc:
        return []
    return [clean(m.group(1)) for m in re.finditer(r"^(?:\d+\. )?(%s\(.*\)(?: -> .*)?)$" % re.escape(name), doc, re.M)]


def first_paragraph(doc, skip_signatures):
    lines = [line for line in (doc or "").splitlines() if not (skip_signatures and re.match(r"^(\d+\. )?\w+\(", line))]
    text = "\n".join(lines).strip().split("\n\n")[0].strip()
    return text.replace('"""', "'''")


def emit_function(name, obj, indent, decorator=None):
    out = []
    sigs = signatures(name, obj.__doc__)
    if not sigs:
        if name.startswith("__"):
            return []  # e.g. the __init__ of a class Python cannot construct
        sigs = [f"{name}(*args, **kwargs) -> typing.Any"]
    overloaded = len(sigs) > 1
    for sig in sigs:
        if overloaded:
            out.append(f"{indent}@typing.overload")
        if decorator:
            out.append(f"{indent}@{decorator}")
        if " -> " not in sig:
            sig += " -> typing.Any"
        out.append(f"{indent}def {sig}: ...")
    return out


def emit_class(name, cls):
    bases = [b for b in cls.__bases__ if b is not object and "pybind11_object" not in b.__name__]
    base = "(" + ", ".join(b.__name__ if b.__module__ in ("builtins", MODULE, "lrem") else b.__qualname__
                           for b in bases) + ")" if bases else ""
    lines = [f"class {name}{base}:"]
    doc = first_paragraph(cls.__doc__, False)
    if doc:
        lines.append(f'    """{doc}"""')
    body = []
    for attr, value in sorted(vars(cls).items()):
        if attr.startswith("_") and attr not in ("__init__", "__len__", "__contains__", "__iter__", "__getitem__",
                                                 "__repr__", "__copy__"):
            continue
        if isinstance(value, staticmethod):
            body += emit_function(attr, value.__func__, "    ", "staticmethod")
        elif isinstance(value, property):
            sig = signatures("", value.fget.__doc__ if value.fget else "")
            ret = "typing.Any"
            m = re.search(r"\) -> (.*)$", (value.fget.__doc__ or "").splitlines()[0] if value.fget and value.fget.__doc__ else "")
            if m:
                ret = clean(m.group(1))
            body.append(f"    @property\n    def {attr}(self) -> {ret}: ...")
        elif callable(value):
            body += emit_function(attr, value, "    ")
    return lines + (body or ["    ..."])


def main(package_dir):
    sys.path.insert(0, str(Path(package_dir).parent))
    mod = importlib.import_module(MODULE)
    parts = [HEADER]
    for name, obj in sorted(vars(mod).items(), key=lambda kv: (not inspect.isclass(kv[1]), kv[0])):
        if name.startswith("_"):
            continue
        if inspect.isclass(obj):
            parts.append("\n".join(emit_class(name, obj)) + "\n\n")
        elif callable(obj):
            parts.append("\n".join(emit_function(name, obj, "")) + "\n\n")
    Path(package_dir, "_lrem.pyi").write_text("".join(parts).rstrip() + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
