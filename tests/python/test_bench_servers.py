"""The serving benchmarks (bench/serve_worst_request.py, bench/serve_soak.py) refuse unusable options
before they start a server, and a server that cannot start ends them with lrem's own message."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO_MODEL = ROOT / "models" / "lrem-demo"


def run(script, lrem_cli, tmp_path, *options, index=None, queries=None):
    if queries is None:
        queries = tmp_path / "queries.jsonl"
        queries.write_text("".join(json.dumps({"id": str(i), "text": f"query {i}"}) + "\n" for i in range(4)))
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), "--lrem", str(lrem_cli),
                           "--model", str(DEMO_MODEL), "--index", str(index or tmp_path / "no-index"),
                           "--queries", str(queries), *options], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script, option, value, message", [
    ("serve_worst_request.py", "--repeats", "0", "argument --repeats: 0 is below the minimum of 1"),
    ("serve_worst_request.py", "--max-batch", "-3", "argument --max-batch: -3 is below the minimum of 1"),
    ("serve_worst_request.py", "--max-results", "many", "argument --max-results: 'many' is not a number"),
    ("serve_soak.py", "--minutes", "0", "argument --minutes: 0 is below the minimum of 0.5"),
    ("serve_soak.py", "--good", "0", "argument --good: 0 is below the minimum of 1"),
    ("serve_soak.py", "--idle", "-1", "argument --idle: -1 is below the minimum of 0"),
    ("serve_soak.py", "--minutes", "nan", "argument --minutes: nan is below the minimum of 0.5"),
])
def test_an_unusable_option_is_refused(lrem_cli, tmp_path, script, option, value, message):
    result = run(script, lrem_cli, tmp_path, f"{option}={value}")
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_fewer_results_than_the_batch_is_refused(lrem_cli, tmp_path):
    result = run("serve_worst_request.py", lrem_cli, tmp_path, "--max-batch", "8", "--max-results", "4")
    assert result.returncode == 2 and "--max-results 4 is below --max-batch 8" in result.stderr


@pytest.mark.parametrize("script", ["serve_worst_request.py", "serve_soak.py"])
def test_an_unreadable_queries_file_is_named(lrem_cli, tmp_path, script):
    for queries, reason in [(tmp_path / "absent.jsonl", "cannot read the queries (No such file or directory)"),
                            (tmp_path / "bad.jsonl", "bad.jsonl:2: not a query record with a \"text\" field")]:
        (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"query": "b"}\n')
        result = run(script, lrem_cli, tmp_path, queries=queries)
        assert result.returncode == 1 and reason in result.stderr and "Traceback" not in result.stderr


def test_a_server_that_cannot_start_ends_the_benchmark_with_lrem_s_message(lrem_cli, tmp_path):
    result = run("serve_worst_request.py", lrem_cli, tmp_path, "--max-batch", "4", "--max-results", "40",
                 index=tmp_path / "no-index")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "lrem serve did not start" in result.stderr and f"cannot open '{tmp_path / 'no-index'}/meta.json'" \
        in result.stderr


def test_a_missing_lrem_executable_is_named(tmp_path):
    result = run("serve_worst_request.py", tmp_path / "no-lrem", tmp_path, "--max-batch", "4", "--max-results", "40")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot run {tmp_path / 'no-lrem'} (No such file or directory)" in result.stderr
