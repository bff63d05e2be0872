"""lrem.evaluate_rankings, lrem.BM25 and the JSON Lines readers from Python."""

import json
import math

import numpy as np
import pytest

import lrem


def test_metrics_by_hand():
    rankings = {"q1": np.array([5, 1, 9, 3, 2, -1]), "q2": [7]}
    qrels = [
        {"query_id": "q1", "item_id": 1, "relevance": 1},
        {"query_id": "q1", "item_id": 2, "relevance": 1},
        ("q1", 3, 2),
        ("q2", 7),
    ]
    report = lrem.evaluate_rankings(rankings, qrels, query_category={"q1": "a", "q2": "b"}, ks=[1, 3, 5], ndcg_k=3)
    assert report.metric_names[:3] == ["HitRate@1", "HitRate@3", "HitRate@5"]
    q1 = next(q for q in report.per_query if q["query_id"] == "q1")
    assert q1["HitRate@3"] == pytest.approx(1 / 3)
    assert q1["Precision@5"] == pytest.approx(3 / 5)
    assert q1["MRR"] == pytest.approx(0.5)
    idcg = 3 + 1 / math.log2(3) + 1 / math.log2(4)
    assert q1["NDCG@3"] == pytest.approx((1 / math.log2(3)) / idcg)
    groups = report.groups
    assert groups["overall"]["num_queries"] == 2
    assert groups["overall"]["MRR"] == pytest.approx(0.75)
    assert groups["b"]["HitRate@1"] == 1.0
    assert report.overall["HitRate@5"] == pytest.approx(1.0)
    as_json = json.loads(report.to_json(include_per_query=True))
    assert as_json["groups"]["a"]["num_queries"] == 1
    assert "overall" in str(report)


def test_metrics_reject_inconsistent_qrels():
    with pytest.raises(lrem.InvalidArgument):
        lrem.evaluate_rankings({"q": [1]}, [("q", 1, 1), ("q", 1, 2)])
    with pytest.raises(lrem.InvalidArgument):
        lrem.evaluate_rankings({"q": [1]}, [("q", 1)], ks=[0])


def test_bm25_ranks_and_ties():
    bm25 = lrem.BM25([30, 10, 20, 40], ["oak lamp", "oak lamp", "Oak LAMP", "steel desk"])
    scores, ids = bm25.search("lamp", k=2)
    assert ids.tolist() == [10, 20]
    assert scores[0] == scores[1] > 0
    batched = bm25.search_many(["lamp", "desk", "sofa"], k=3)
    assert [b[1].tolist() for b in batched] == [[10, 20, 30], [40], []]
    assert lrem.bm25_tokenize("Red-Shoes 42") == ["red", "shoes", "42"]
    assert "the" in lrem.english_stop_words()


def test_jsonl_round_trip_and_errors(tmp_path):
    items = [{"id": 3, "title": "red shoes", "price": 9.5}, {"id": 1, "title": "caf\u00e9 table"}]
    lrem.write_items(tmp_path / "items.jsonl", items)
    assert lrem.read_items(tmp_path / "items.jsonl") == items
    store = lrem.ItemStore.load(tmp_path / "items.jsonl")
    assert len(store) == 2 and 3 in store and store.title(1) == "caf\u00e9 table"
    assert store.get(3)["price"] == 9.5 and store.get(99) is None
    (tmp_path / "bad.jsonl").write_text('{"id": 1, "title": "a"}\n{"id": 1, "title": "b"}\n')
    with pytest.raises(lrem.FormatError, match="line 2"):
        lrem.read_items(tmp_path / "bad.jsonl")
    (tmp_path / "q.jsonl").write_text('{"id": 17, "text": "oak desk", "category": "furniture"}\n')
    assert lrem.read_queries(tmp_path / "q.jsonl") == [{"id": "17", "text": "oak desk", "category": "furniture"}]
    (tmp_path / "qrels.jsonl").write_text('{"query_id": 17, "item_id": 3}\n')
    assert lrem.read_qrels(tmp_path / "qrels.jsonl") == [{"query_id": "17", "item_id": 3, "relevance": 1}]
