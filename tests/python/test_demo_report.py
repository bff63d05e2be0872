"""scripts/demo_report.py: its tables equal what `lrem eval` scored, one table per --metric."""

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPORT = os.path.join(ROOT, "scripts", "demo_report.py")
DIFFICULT = {"knowledge", "synonym", "alternative", "negation"}

if not os.path.isfile("/usr/share/wordnet/data.noun"):
    pytest.skip("SKIPPED: WordNet 3.0 (Debian's wordnet-base) is needed to generate the benchmark",
                allow_module_level=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_benchmark.py"), "--out", str(out),
                    "--num-types", "60", "--num-items", "600", "--knowledge-repeats", "0"],
                   check=True, capture_output=True, timeout=120)
    return out


def tables(text):
    """{metric: {system: {column: cell}}} from the Markdown tables the report prints."""
    out, metric, header = {}, None, None
    for line in text.splitlines():
        if " on the test split " in line:
            metric, header = line.split(" on the ")[0], None
            out[metric] = {}
        elif line.startswith("| system"):
            header = [c.strip() for c in line.strip("|").split("|")]
        elif line.startswith("| ") and header:
            cells = [c.strip() for c in line.strip("|").split("|")]
            out[metric][cells[0]] = dict(zip(header, cells))
    return out


def test_one_table_per_metric_equal_to_lrem_eval(data, tmp_path, lrem_cli):
    result = subprocess.run([sys.executable, REPORT, "--lrem", str(lrem_cli), "--data", str(data),
                             "--out", str(tmp_path), "--system", "BM25=bm25", "--baseline", "BM25",
                             "--metric", "HitRate@10", "--metric", "Precision@10", "--markdown"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    printed = tables(result.stdout)
    assert list(printed) == ["HitRate@10", "Precision@10"]
    (scored_path,) = [p for p in glob.glob(str(tmp_path / "*.json"))]
    with open(scored_path, encoding="utf-8") as f:
        scored = json.load(f)
    for metric, rows in printed.items():
        row = rows["BM25"]
        assert float(row["overall"]) == pytest.approx(scored["groups"]["overall"][metric], abs=5e-4)
        assert float(row["lexical"]) == pytest.approx(scored["groups"]["lexical"][metric], abs=5e-4)
        hard = [q[metric] for q in scored["per_query"] if q["category"] in DIFFICULT]
        assert float(row["difficult"]) == pytest.approx(sum(hard) / len(hard), abs=5e-4)
        assert row["difficult / baseline"] == "1.00x"
    # The two metrics really differ on this data: a table is not printed twice.
    assert printed["HitRate@10"]["BM25"] != printed["Precision@10"]["BM25"]


def test_unknown_metric_is_refused(data, tmp_path):
    result = subprocess.run([sys.executable, REPORT, "--lrem", "lrem", "--data", str(data), "--out", str(tmp_path),
                             "--system", "BM25=bm25", "--metric", "Recall@7"], capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice: 'Recall@7'" in result.stderr


def test_a_system_of_several_seeds_shows_their_mean_and_range(data, tmp_path, lrem_cli):
    """LABEL=DIR1,DIR2 is one system: each cell is the runs' mean with their range, each run scored
    exactly as the same model given alone."""
    models = [os.path.join(ROOT, "models", m) for m in ("lrem-demo-direct", "lrem-demo-cold-start")]
    result = subprocess.run([sys.executable, REPORT, "--lrem", str(lrem_cli), "--data", str(data),
                             "--out", str(tmp_path), "--system", f"A={models[0]}:--mode direct",
                             "--system", f"B={models[1]}:--mode direct",
                             "--system", f"AB={models[0]},{models[1]}:--mode direct", "--baseline", "A",
                             "--metric", "Precision@10", "--markdown"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = tables(result.stdout)["Precision@10"]
    for column in ("lexical", "difficult", "overall"):
        a, b = float(rows["A"][column]), float(rows["B"][column])
        low, high = sorted((a, b))
        assert float(rows["AB"][column].split()[0]) == pytest.approx((a + b) / 2, abs=1e-3)
        assert rows["AB"][column].endswith(f"({low:.3f}-{high:.3f})")
    assert rows["A"]["overall"] != rows["B"]["overall"], "two different models: the range is not trivial"
    ratio = float(rows["AB"]["difficult / baseline"].rstrip("x"))
    assert ratio == pytest.approx(float(rows["AB"]["difficult"].split()[0]) / float(rows["A"]["difficult"]), abs=0.01)


def test_a_label_may_hold_equals_signs_and_commas(data, tmp_path, lrem_cli):
    model = os.path.join(ROOT, "models", "lrem-demo-direct")
    label = "l = 8, direct"
    result = subprocess.run([sys.executable, REPORT, "--lrem", str(lrem_cli), "--data", str(data),
                             "--out", str(tmp_path), "--system", f"{label}={model}:--mode direct",
                             "--system", "BM25, a=b=bm25", "--metric", "Precision@10", "--markdown"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert {label, "BM25, a=b"} <= set(tables(result.stdout)["Precision@10"])


def test_a_system_without_a_model_is_refused(data, tmp_path):
    result = subprocess.run([sys.executable, REPORT, "--lrem", "lrem", "--data", str(data), "--out", str(tmp_path),
                             "--system", "X=a,,b"], capture_output=True, text=True)
    assert result.returncode == 1 and "expected LABEL=bm25 or LABEL=MODEL_DIR" in result.stderr


def test_a_missing_model_directory_is_refused_before_any_evaluation(data, tmp_path, lrem_cli):
    missing = tmp_path / "no-such-model"
    result = subprocess.run([sys.executable, REPORT, "--lrem", str(lrem_cli), "--data", str(data),
                             "--out", str(tmp_path / "out"), "--system", "BM25=bm25",
                             "--system", f"X={missing}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"X: {missing}" in result.stderr and "Traceback" not in result.stderr
    assert not glob.glob(str(tmp_path / "out" / "*.json")), "BM25 was evaluated before the check"


def test_a_failing_evaluation_shows_what_lrem_eval_said(data, tmp_path, lrem_cli):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    result = subprocess.run([sys.executable, REPORT, "--lrem", str(lrem_cli), "--data", str(data),
                             "--out", str(tmp_path / "out"), "--system", f"X={broken}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "failed (exit" in result.stderr
    direct = subprocess.run([str(lrem_cli), "eval", "--items", str(data / "items.jsonl"),
                             "--queries", str(data / "queries_test.jsonl"), "--qrels", str(data / "qrels_test.jsonl"),
                             "--model", str(broken), "--quiet"], capture_output=True, text=True, timeout=300)
    said = direct.stderr.strip().splitlines()
    assert direct.returncode != 0 and said
    assert said[-1] in result.stderr
