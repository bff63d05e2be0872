"""The hand-written natural-query set (data/natural_queries/) against the demo catalogue it is
written for, its judgements, and the per-style tables scripts/demo_report.py --natural prints."""

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUERIES = os.path.join(ROOT, "data", "natural_queries", "queries.jsonl")
REPORT = os.path.join(ROOT, "scripts", "demo_report.py")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

from benchmark import natural  # noqa: E402
from benchmark.jsonl import read_jsonl  # noqa: E402
from benchmark.traffic import is_variant  # noqa: E402

if not os.path.isfile("/usr/share/wordnet/data.noun"):
    pytest.skip("SKIPPED: WordNet 3.0 (Debian's wordnet-base) is needed to generate the benchmark",
                allow_module_level=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The demo's own catalogue and queries (configs/demo/benchmark.args), which the set is keyed to."""
    out = tmp_path_factory.mktemp("demo_bench")
    with open(os.path.join(ROOT, "configs", "demo", "benchmark.args"), encoding="utf-8") as f:
        args = f.read().split()
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_benchmark.py"), "--out", str(out), *args],
                   check=True, capture_output=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def queries():
    return natural.load_queries(QUERIES)


def normalise(text):
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_every_query_names_a_type_of_the_demo_catalogue(data, queries):
    types = {t["type_id"]: t for t in read_jsonl(data / "types.jsonl")}
    unknown = [q["id"] for q in queries if q["type_id"] not in types]
    assert not unknown
    assert [q["id"] for q in queries if types[q["type_id"]]["name"] != q["type_name"]] == []
    covered = {q["type_id"] for q in queries}
    held_out = {i for i, t in types.items() if t["split"] in natural.HELD_OUT}
    assert held_out - covered == set(), "every dev and test type needs natural queries"
    train = {i for i in covered if types[i]["split"] == "train"}
    assert 30 <= len(train) <= 60, "a sample of train types, for the held-out/train comparison"


def test_size_styles_and_distinct_texts(queries):
    assert len(queries) >= 400
    styles = Counter(q["style"] for q in queries)
    assert set(styles) == set(natural.STYLES)
    assert min(styles.values()) >= 40, styles
    texts = [normalise(q["text"]) for q in queries]
    assert len(set(texts)) == len(texts), "a query written twice"


def test_no_query_is_a_generated_one(data, queries):
    generated = {split: read_jsonl(data / f"queries_{split}.jsonl") for split in ("train", "dev", "test")}
    # The templates' own wordings: none is one of the hand-written queries.
    templated = {normalise(q["text"]) for rows in generated.values() for q in rows
                 if not is_variant(q["id"])}
    assert [q["text"] for q in queries if normalise(q["text"]) in templated] == []
    # The recipe's traffic variants edit those wordings (a dropped word can leave a bare product
    # name, which a hand-written synonym query may also be), but only for training types: no
    # query of a held-out type may be a training text, or the held-out tables would be trained on.
    types = {t["type_id"]: t for t in read_jsonl(data / "types.jsonl")}
    trained = {normalise(q["text"]) for q in generated["train"]}
    assert [q["text"] for q in queries
            if types[q["type_id"]]["split"] in natural.HELD_OUT and normalise(q["text"]) in trained] == []


def test_judgements_follow_the_benchmark_grades(data, queries):
    rows, qrels = natural.judge(QUERIES, str(data))
    items = {i["id"]: i for i in read_jsonl(data / "items.jsonl")}
    by_query = {q["id"]: q for q in queries}
    judged = {}
    for r in qrels:
        judged.setdefault(r["query_id"], {})[r["item_id"]] = r["relevance"]
    assert [r["id"] for r in rows] == [q["id"] for q in queries]
    excluded_some = 0
    for query_id, grades in judged.items():
        q = by_query[query_id]
        of_type = {i for i, item in items.items() if item["type_id"] == q["type_id"]}
        assert set(grades) <= of_type
        for item_id in of_type:
            item = items[item_id]
            if q["style"] == "without" and item["material"] == q["without"]:
                assert item_id not in grades
                excluded_some += 1
            elif q["style"] == "cheaper":
                assert grades[item_id] == (1 if item["tier"] == "premium" else 2)
            else:
                assert grades[item_id] == 2
    assert set(judged) == set(by_query)
    assert excluded_some > 0, "some `without` queries rule out a catalogue material"


def test_unknown_type_is_refused_with_the_query_named(data, tmp_path):
    bad = tmp_path / "queries.jsonl"
    bad.write_text(json.dumps({"id": "x1", "text": "a hat", "type_id": "wn:00000000-n", "style": "need"}) + "\n")
    with pytest.raises(ValueError, match="x1: type wn:00000000-n is not in"):
        natural.judge(str(bad), str(data))


def tables(text):
    """{title: {system: {column: cell}}} from the Markdown tables the report prints."""
    out, title, header = {}, None, None
    for line in text.splitlines():
        if " on the natural queries of " in line:
            title, header = line, None
            out[title] = {}
        elif line.startswith("| system"):
            header = [c.strip() for c in line.strip("|").split("|")]
        elif line.startswith("| ") and header:
            cells = [c.strip() for c in line.strip("|").split("|")]
            out[title][cells[0]] = dict(zip(header, cells))
    return out


def test_report_prints_per_style_tables_for_held_out_and_train_types(data, queries, tmp_path, lrem_cli):
    # A tiny run: the first query of every style and split, scored by BM25.
    split = {t["type_id"]: t["split"] for t in read_jsonl(data / "types.jsonl")}
    first = {}
    for q in queries:
        first.setdefault((q["style"], split[q["type_id"]] in natural.HELD_OUT), q)
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(json.dumps(q) + "\n" for q in first.values()))
    out = tmp_path / "eval"
    result = subprocess.run([sys.executable, REPORT, "--lrem", str(lrem_cli), "--data", str(data), "--out", str(out),
                             "--natural", str(subset), "--system", "BM25=bm25", "--baseline", "BM25",
                             "--metric", "Precision@10", "--metric", "NDCG@10", "--markdown"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    printed = tables(result.stdout)
    assert list(printed) == [
        f"{m} on the natural queries of {g} ({len(natural.STYLES)} queries)"
        for m in ("Precision@10", "NDCG@10") for g in ("held-out (dev+test) types", "train types")]
    (scored_path,) = out.glob("*.json")
    per_query = {q["query_id"]: q for q in json.loads(scored_path.read_text())["per_query"]}
    for title, rows in printed.items():
        metric, held_out = title.split()[0], "held-out" in title
        row = rows["BM25"]
        assert list(row)[1:] == [*natural.STYLES, "overall", "overall / baseline", "CoT names type"]
        chosen = {style: q for (style, h), q in first.items() if h == held_out}
        for style, q in chosen.items():
            assert float(row[style]) == pytest.approx(per_query[q["id"]][metric], abs=5e-4)
        mean = sum(per_query[q["id"]][metric] for q in chosen.values()) / len(chosen)
        assert float(row["overall"]) == pytest.approx(mean, abs=5e-4)
    assert "words of these queries found in the pretraining corpus" in result.stdout
