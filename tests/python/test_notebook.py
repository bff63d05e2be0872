"""examples/notebooks/quickstart.ipynb runs top to bottom in a fresh Debian python3 kernel (as a
user runs it, from its own directory) and shows what it says: CoTs with hits, the per-category
table and chart, and a stage-1 fine-tune whose model searches."""

import os
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    import lrem

    # The kernel inherits the environment: point it at the extension under test.
    monkeypatch.setenv("PYTHONPATH", str(Path(lrem.__file__).resolve().parents[1]))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    code = [c for c in nb.cells if c.cell_type == "code"]
    text = ["".join(o.get("text", "") for o in c.outputs if o.output_type == "stream") for c in code]
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert text[0].strip() == "400 items, 353 queries"
    assert text[1].count("  cot: ") == 5 and "[knowledge]" in text[1]
    assert "LREM (reason)" in text[2] and "Direct embedding" in text[2] and text[2].count("knowledge ") == 2
    assert images == 2
    assert text[4].startswith("8 steps in ")
    assert "model.safetensors" in text[5] and "  cot: " in text[5]
    assert any(p.name.startswith("lrem-quickstart-") for p in tmp_path.iterdir())
