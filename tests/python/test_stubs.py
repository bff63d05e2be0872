"""The generated type stubs parse and cover every public name of the extension."""

import ast
from pathlib import Path

import lrem
import lrem._lrem as ext


def test_stub_covers_the_extension():
    stub = Path(ext.__file__).with_name("_lrem.pyi")
    assert stub.is_file(), "the build generates lrem/_lrem.pyi next to the extension"
    tree = ast.parse(stub.read_text())
    defined = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    public = {name for name in vars(ext) if not name.startswith("_")}
    assert public <= defined, f"missing from the stub: {sorted(public - defined)}"
    model = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    load = next(n for n in model.body if isinstance(n, ast.FunctionDef) and n.name == "load")
    assert [a.arg for a in load.args.kwonlyargs] == ["device", "dtype", "prompt_preset"]
    assert (Path(lrem.__file__).parent / "py.typed").is_file()
