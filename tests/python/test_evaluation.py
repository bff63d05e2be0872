"""lrem.evaluate (BM25 and embedding systems, CoT sources) and lrem.curate_triplets with a Python teacher."""

import json

import numpy as np
import pytest

import lrem

ITEMS = [
    {"id": 1, "title": "Northwind Chesterfield Coat"},
    {"id": 2, "title": "Oakbay Parka"},
    {"id": 3, "title": "Oakbay Rain Poncho"},
    {"id": 4, "title": "Steel Hammer"},
    {"id": 5, "title": "Budget Claw Hammer"},
]
QUERIES = [
    {"id": "q1", "text": "something warm for winter", "category": "knowledge"},
    {"id": "q2", "text": "claw hammer", "category": "lexical"},
    {"id": "q4", "text": "winter coat", "category": "lexical"},
]
QRELS = [("q1", 2), ("q2", 5, 2), ("q4", 1), ("q4", 2)]


def bm25():
    return lrem.BM25([i["id"] for i in ITEMS], [i["title"] for i in ITEMS])


def test_bm25_system_metrics_by_hand():
    run = lrem.evaluate(bm25(), QUERIES, QRELS, ks=[1, 2], ndcg_k=2)
    assert run.system == "bm25"
    rankings = {r["query_id"]: r["item_ids"] for r in run.rankings}
    assert rankings["q1"] == []  # no title word in the query
    assert rankings["q2"][0] == 5
    assert rankings["q4"] == [1]
    overall = run.overall
    # HitRate@1: q1 0, q2 1, q4 1/2.
    assert overall["HitRate@1"] == pytest.approx(0.5)
    assert overall["Recall@1"] == overall["HitRate@1"]
    assert overall["MRR"] == pytest.approx(2 / 3)
    assert run.report.groups["lexical"]["num_queries"] == 2
    assert json.loads(run.to_json())["system"] == "bm25"


def test_files_and_dicts_agree(tmp_path):
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    (tmp_path / "r.jsonl").write_text(
        "".join(json.dumps({"query_id": q[0], "item_id": q[1], "relevance": q[2] if len(q) > 2 else 1}) + "\n"
                for q in QRELS))
    a = lrem.evaluate(bm25(), QUERIES, QRELS)
    b = lrem.evaluate(bm25(), tmp_path / "q.jsonl", str(tmp_path / "r.jsonl"))
    assert a.overall == b.overall


def test_embedding_system_and_cot_sources(lrem_model_dir):
    model = lrem.Model.load(str(lrem_model_dir))
    embedder = lrem.Embedder(model, max_cot_tokens=6)
    items = lrem.ItemStore(ITEMS)
    retriever = lrem.Retriever(embedder, lrem.build_index(embedder, items), items)

    generated = lrem.evaluate(retriever, QUERIES, QRELS, depth=5)
    _, cots = embedder.embed_queries([q["text"] for q in QUERIES], return_cots=True)
    assert [r["cot"] for r in generated.rankings] == cots

    direct = lrem.evaluate(retriever, QUERIES, QRELS, mode="direct", depth=5)
    q = embedder.embed_queries([q["text"] for q in QUERIES], mode="direct")
    scores = q @ embedder.embed_items([i["title"] for i in ITEMS]).T
    want = [[ITEMS[j]["id"] for j in np.argsort(-row, kind="stable")] for row in scores]
    assert [r["item_ids"] for r in direct.rankings] == want
    assert all(r["cot"] == "" for r in direct.rankings)

    query_cot = lrem.evaluate(retriever, QUERIES, QRELS, cot_source="query")
    assert [r["cot"] for r in query_cot.rankings] == [q["text"] for q in QUERIES]
    with pytest.raises(lrem.InvalidArgument):
        lrem.evaluate(retriever, QUERIES, QRELS, mode="direct", cot_source="random")

    mean = lrem.Embedder(model, pooling="mean")
    assert mean.pooling == "mean"
    forced = embedder.embed_queries_with_cots(["winter coat"], [""])
    assert np.allclose(forced, embedder.embed_queries(["winter coat"], mode="direct"), atol=1e-5)


def test_curation_with_a_python_teacher(tmp_path):
    cots = {"q1": ["parka", "coat"], "q2": "tool steel", "q4": ["parka", "poncho", "the"]}
    asked = []

    def teacher(query):
        asked.append(query["id"])
        return cots.get(query["id"])

    out = lrem.curate_triplets(QUERIES, QRELS, lrem.ItemStore(ITEMS), teacher, k=3)
    assert asked == ["q1", "q2", "q4"]
    assert [(t["query_id"], t["item_id"], t["cot"]) for t in out.triplets] == [
        ("q1", 2, "parka coat"), ("q4", 2, "parka poncho")]
    assert out.stats == {"queries": 3, "with_cot": 3, "kept": 2, "triplets": 2}
    out.save(tmp_path / "t.jsonl")
    assert json.loads((tmp_path / "t.jsonl").read_text().splitlines()[0])["item"] == "Oakbay Parka"
    # The same with an explicit BM25 baseline.
    again = lrem.curate_triplets(QUERIES, QRELS, lrem.ItemStore(ITEMS), teacher, baseline=bm25(), k=3)
    assert again.triplets == out.triplets

    def broken(query):
        raise ValueError("teacher failed")

    with pytest.raises(ValueError, match="teacher failed"):
        lrem.curate_triplets(QUERIES, QRELS, lrem.ItemStore(ITEMS), broken)
    assert lrem.clean_cot("warm coat", ["Coat", "parka", "the"]) == "parka"


def test_clean_cot_stops_at_the_backbones_token_cap(lrem_model_dir):
    model = lrem.Model.load(str(lrem_model_dir))  # max_cot_tokens 16
    words = [f"w{i}x{i}" for i in range(40)]  # several tokens each
    capped = lrem.clean_cot("query", words, model=model)
    assert 0 < len(model.tokenizer.encode(capped)) <= 16
    assert lrem.clean_cot("query", words).startswith(capped + " ")
