"""The layering of docs/ARCHITECTURE.md holds in the code: every #include "..." in src/<layer>/
and include/lrem/ goes to a layer the including layer may use, and the public headers stay free
of torch, FAISS and the private headers."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^">]+)[">]', re.M)

# Which layers a layer may include (besides itself), bottom to top. docs/ARCHITECTURE.md draws this.
MAY_INCLUDE = {
    "util": set(),
    "model": {"util"},
    "retrieval": {"model", "util"},
    "eval": {"retrieval", "model", "util"},
    "serve": {"retrieval", "model", "util"},
    "train": {"model", "util"},
    "cli": {"serve", "train", "eval", "retrieval", "model", "util"},
}
# Public headers whose layer is not the folder of a same-named src/<layer>/<name>.cc. `error`
# (the lrem::Error hierarchy every layer throws) is util-level, as every layer may include util/.
# `dataset` (Item, ItemStore, Query, Qrel and their JSONL readers) needs only util/ and is used by
# retrieval, eval and train, so it is util-level code, although its source sits in src/eval/.
PUBLIC_LAYER = {"error": "util", "dataset": "util", "train": "train", "lrem": "cli"}
# ItemStore's storage (memory, SQLite) is part of the same util-level concept as dataset.
SOURCE_LAYER = {"eval/dataset.cc": "util", "eval/item_store.cc": "util", "eval/item_store_backend.h": "util",
                "eval/item_database.h": "util", "eval/item_database.cc": "util"}
# Standard-library or lrem headers only: torch and FAISS stay private (include/lrem/ is torch-free).
FORBIDDEN_IN_PUBLIC = re.compile(r"^(torch|ATen|c10|faiss|sentencepiece|nlohmann|httplib|pybind11)\b")


def layer_of_source(relative: Path) -> str:
    """<layer>/... (relative to src/) -> <layer>, unless SOURCE_LAYER says otherwise."""
    return SOURCE_LAYER.get(relative.as_posix(), relative.parts[0])


def layer_of_public(root: Path, name: str) -> str:
    """lrem/<name>.h -> the layer of src/<layer>/<name>.cc (cli/ commands share names, so skipped)."""
    if name in PUBLIC_LAYER:
        return PUBLIC_LAYER[name]
    homes = {p.parent.name for p in (root / "src").glob(f"*/{name}.cc")} - {"cli"}
    assert len(homes) == 1, f"include/lrem/{name}.h: no single src/<layer>/{name}.cc ({sorted(homes)}); " \
                            f"add it to PUBLIC_LAYER in {Path(__file__).name} and docs/ARCHITECTURE.md"
    return homes.pop()


def violations(root: Path) -> list:
    sources = [p for p in sorted((root / "src").rglob("*")) if p.suffix in (".cc", ".h")]
    files = [(p, layer_of_source(p.relative_to(root / "src"))) for p in sources]
    files += [(p, layer_of_public(root, p.stem)) for p in sorted((root / "include" / "lrem").glob("*.h"))]
    found = []
    for path, layer in files:
        assert layer in MAY_INCLUDE, f"{path}: unknown layer {layer!r}; add it to MAY_INCLUDE and the doc"
        public = path.parent == root / "include" / "lrem"
        for kind, header in INCLUDE.findall(path.read_text(encoding="utf-8")):
            where = f"{path.relative_to(root)} ({layer})"
            if kind == "<":
                if public and FORBIDDEN_IN_PUBLIC.match(header):
                    found.append(f"{where} includes <{header}>: keep third-party headers out of include/lrem/")
                continue
            top, _, rest = header.partition("/")
            if top == "lrem":
                target = layer_of_public(root, Path(rest).stem)
            elif public:
                found.append(f"{where} includes the private header \"{header}\"")
                continue
            elif top in MAY_INCLUDE:
                target = layer_of_source(Path(header))
            else:
                found.append(f"{where} includes \"{header}\": name headers by their path below src/ (\"<layer>/...\")")
                continue
            if target != layer and target not in MAY_INCLUDE[layer]:
                found.append(f"{where} includes \"{header}\" ({target}); {layer} may include "
                             f"{sorted(MAY_INCLUDE[layer]) or 'no other layer'}")
    return found


def test_src_follows_the_documented_layering():
    assert violations(REPO) == []


def test_the_documented_layering_is_the_tested_one():
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    for layer, allowed in MAY_INCLUDE.items():
        line = re.search(rf"^\| `{layer}/` \| ([^|]*) \|", doc, flags=re.M)
        assert line, f"docs/ARCHITECTURE.md has no row for {layer}/ in its layer table"
        documented = set(re.findall(r"`(\w+)/`", line.group(1)))
        assert documented == allowed, f"{layer}/: the doc says {sorted(documented)}, the test {sorted(allowed)}"


def test_a_layer_violation_is_reported(tmp_path):
    for rel, text in {"src/util/a.cc": '#include "lrem/error.h"\n#include "model/b.h"\n',
                      "src/model/b.h": '#include "util/a.h"\n',
                      "src/model/b.cc": '#include "retrieval/c.h"\n',
                      "src/retrieval/c.cc": '#include "c.h"\n',
                      "include/lrem/b.h": "#include <torch/torch.h>\n#include <string>\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = violations(tmp_path)
    assert len(found) == 4, found
    assert any(f.startswith("include/lrem/b.h (model) includes <torch/torch.h>") for f in found)
    assert any(f.startswith('src/model/b.cc (model) includes "retrieval/c.h" (retrieval)') for f in found)
    assert any(f.startswith('src/util/a.cc (util) includes "model/b.h" (model)') for f in found)
    assert any(f.startswith('src/retrieval/c.cc (retrieval) includes "c.h": name headers') for f in found)
