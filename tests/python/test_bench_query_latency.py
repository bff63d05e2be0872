"""bench/query_latency.py: times reason-mode query embedding per model, and refuses unusable
options, queries files and models with a message instead of a traceback."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lrem

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "bench" / "query_latency.py"
DEMO_MODEL = ROOT / "models" / "lrem-demo"


def run(tmp_path, *options, queries=None, model=f"demo={DEMO_MODEL}"):
    if queries is None:
        queries = tmp_path / "queries.jsonl"
        queries.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n"
                                   for i, t in enumerate(["warm socks", "a gift for a gardener", "tea kettle"])))
    # The script imports the same lrem package as this test.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(lrem.__file__).parent.parent),
                                                      os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(SCRIPT), "--queries", str(queries), "--model", model, *options],
                          capture_output=True, text=True, timeout=300, env=env)


def test_it_times_every_model_in_every_round(tmp_path):
    result = run(tmp_path, "--limit", "2", "--rounds", "2")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["round"] for r in rows] == [1, 2]
    for r in rows:
        assert r["demo"]["mean_ms"] > 0 and r["demo"]["p50_ms"] > 0
        assert 0 < r["demo"]["cot_tokens"] <= lrem.Model.load(str(DEMO_MODEL)).prompt_config["max_cot_tokens"]


@pytest.mark.parametrize("option, value, message", [
    ("--limit", "0", "argument --limit: 0 is below the minimum of 1"),
    ("--rounds", "-1", "argument --rounds: -1 is below the minimum of 1"),
    ("--rounds", "two", "argument --rounds: 'two' is not a number"),
])
def test_an_unusable_option_is_refused(tmp_path, option, value, message):
    result = run(tmp_path, f"{option}={value}")
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_unusable_queries_and_models_are_named(tmp_path):
    missing = tmp_path / "none.jsonl"
    result = run(tmp_path, queries=missing)
    assert result.returncode == 1 and f"{missing}: cannot read the queries" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1"}\n')
    result = run(tmp_path, queries=bad)
    assert result.returncode == 1 and f"{bad}:1: not a query record" in result.stderr
    result = run(tmp_path, model=str(DEMO_MODEL))
    assert result.returncode == 2 and "expected LABEL=MODEL_DIR" in result.stderr
    result = run(tmp_path, model=f"x={tmp_path / 'no-model'}")
    assert result.returncode == 1 and "query_latency: --model x:" in result.stderr
    assert "Traceback" not in result.stderr
