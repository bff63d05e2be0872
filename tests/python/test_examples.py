"""The example programs in examples/python/ run as a user runs them (a fresh interpreter, the
shipped demo model by default) on a few rows of the example catalogue, and say what they did."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"
DATA = REPO / "examples" / "data"


def run(script, *args, cwd=None):
    import lrem

    # The extension the suite imports, so the scripts test this build.
    env = dict(os.environ, PYTHONPATH=str(Path(lrem.__file__).resolve().parents[1]))
    r = subprocess.run([sys.executable, EXAMPLES / script, *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=300)
    return r


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The first 5 product types of examples/data: 25 items, their queries and judgements."""
    out = tmp_path_factory.mktemp("tiny")
    items = read_jsonl(DATA / "items.jsonl")
    types = sorted({i["type_id"] for i in items})[:5]
    items = [i for i in items if i["type_id"] in types]
    queries = [q for q in read_jsonl(DATA / "queries.jsonl") if q["type_id"] in types]
    ids = {i["id"] for i in items}
    qrels = [r for r in read_jsonl(DATA / "qrels.jsonl") if r["item_id"] in ids]
    return {"items": write_jsonl(out / "items.jsonl", items), "queries": write_jsonl(out / "queries.jsonl", queries),
            "qrels": write_jsonl(out / "qrels.jsonl", qrels), "ids": ids, "categories": {q["category"] for q in queries}}


def hits(stdout):
    return [int(line.split("[")[1].split("]")[0]) for line in stdout.splitlines() if line.strip()[:1].isdigit()]


def test_index_then_search_the_saved_index(tiny, tmp_path):
    r = run("index_catalogue.py", "--items", tiny["items"], "--out", tmp_path / "index")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"indexed {len(tiny['ids'])} items (128 dims, Flat)")
    assert (tmp_path / "index" / "meta.json").is_file()

    r = run("search_catalogue.py", "--index", tmp_path / "index", "-k", "3", "wooden abacus", "red abacus")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "query: wooden abacus" and lines[1].startswith("cot:   ")
    assert len(hits(r.stdout)) == 6 and set(hits(r.stdout)) <= tiny["ids"]


def test_search_without_queries_runs_one_example_per_category(tiny):
    r = run("search_catalogue.py", "--items", tiny["items"], "-k", "2", "--mode", "direct")
    assert r.returncode == 0, r.stderr
    categories = {json.loads(line)["category"] for line in (DATA / "queries.jsonl").read_text().splitlines()}
    assert r.stdout.count("query: ") == len(categories)
    assert set(hits(r.stdout)) <= tiny["ids"]


def test_evaluate_prints_the_table_per_category(tiny, tmp_path):
    r = run("evaluate.py", "--items", tiny["items"], "--queries", tiny["queries"], "--qrels", tiny["qrels"],
            "-k", "5", "--json", tmp_path / "run.json")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0] for line in r.stdout.splitlines()[2:] if line.strip()}
    assert rows == {"overall"} | tiny["categories"]
    assert "HitRate@5" in r.stdout
    report = json.loads((tmp_path / "run.json").read_text())
    assert len(report["per_query"]) == len(read_jsonl(tiny["queries"]))


def test_evaluate_bm25_and_a_missing_file(tiny, tmp_path):
    r = run("evaluate.py", "--bm25", "--items", tiny["items"], "--queries", tiny["queries"], "--qrels", tiny["qrels"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("system: bm25\n")
    r = run("evaluate.py", "--bm25", "--items", tmp_path / "missing.jsonl")
    assert r.returncode == 1 and "missing.jsonl" in r.stderr


def test_train_stage1_writes_a_model_that_reasons(tmp_path):
    r = run("train_stage1.py", "--steps", "2", "--batch-size", "4", "--out", tmp_path / "stage1")
    assert r.returncode == 0, r.stderr
    assert [line.split()[:2] for line in r.stdout.splitlines()[:2]] == [["step", "1"], ["step", "2"]]
    assert "trained 2 steps" in r.stdout and r.stdout.splitlines()[-1].startswith("cot:   ")
    assert (tmp_path / "stage1" / "model.safetensors").is_file()
