"""The hand-written natural-query set (data/natural_queries/) joined to a generated catalogue.

The set names only product types; which items are relevant is decided here from the catalogue as
generated (items.jsonl, types.jsonl), so the judgements stay valid when the catalogue is
regenerated. Grades follow the benchmark's rules (judge.py): 2 an item of the type that meets what
the query asks, 1 an item of the type that misses it, 0 (not written) anything else:

- every style: the type's items are relevant (2);
- `cheaper` ("cheaper than X" without a brand): premium-tier items are 1, as an alternative query
  grades items of the named brand's tier;
- `without`: items made of the excluded catalogue material (the query's `without` field, when it
  names one of the catalogue's materials) are 0, as a negation query grades them.
"""

from __future__ import annotations

from collections import Counter

from .jsonl import read_jsonl

STYLES = ("need", "description", "synonym", "misspelling", "comparison", "cheaper", "without")
HELD_OUT = ("dev", "test")  # types whose queries never meet their items in training


def load_queries(path: str) -> list[dict]:
    """The natural queries, each checked for the fields the set's README defines."""
    queries = read_jsonl(path)
    for n, q in enumerate(queries, 1):
        where = f"{path}:{n}"
        for field in ("id", "text", "type_id", "style"):
            if not isinstance(q.get(field), str) or not q[field]:
                raise ValueError(f"{where}: expected a non-empty string field {field!r}")
        if q["style"] not in STYLES:
            raise ValueError(f"{where}: style {q['style']!r} is not one of {', '.join(STYLES)}")
        if (q["style"] == "without") != ("without" in q):
            raise ValueError(f"{where}: a `without` field belongs to exactly the queries of style `without`")
    repeated = [i for i, n in Counter(q["id"] for q in queries).items() if n > 1]
    if repeated:
        raise ValueError(f"{path}: query ids used twice: {repeated[:5]}")
    return queries


def grade(query: dict, item: dict) -> int:
    if item["type_id"] != query["type_id"]:
        return 0
    if query["style"] == "without" and item["material"] == query["without"]:
        return 0
    if query["style"] == "cheaper" and item["tier"] == "premium":
        return 1
    return 2


def judge(queries_path: str, data: str) -> tuple[list[dict], list[dict]]:
    """(queries, qrels) in the layout `lrem eval` reads: a query's category is its style, and its
    `split` the split of its type in this catalogue. Raises ValueError if a query's type is not in
    the catalogue (the set is written for configs/demo/benchmark.args) or no item is exact for it."""
    queries = load_queries(queries_path)
    split_of = {t["type_id"]: t["split"] for t in read_jsonl(f"{data}/types.jsonl")}
    items_by_type: dict[str, list[dict]] = {}
    for item in read_jsonl(f"{data}/items.jsonl"):
        items_by_type.setdefault(item["type_id"], []).append(item)
    rows, qrels = [], []
    for q in queries:
        if q["type_id"] not in split_of:
            raise ValueError(f"{queries_path}: query {q['id']}: type {q['type_id']} is not in {data}/types.jsonl; "
                             f"the set is written for the catalogue of configs/demo/benchmark.args")
        judged = [{"query_id": q["id"], "item_id": item["id"], "relevance": grade(q, item)}
                  for item in items_by_type.get(q["type_id"], [])]
        judged = sorted((r for r in judged if r["relevance"]), key=lambda r: (-r["relevance"], r["item_id"]))
        if not judged or judged[0]["relevance"] != 2:
            raise ValueError(f"{queries_path}: query {q['id']}: no item of {q['type_id']} in {data}/items.jsonl "
                             f"is an exact match")
        rows.append({"id": q["id"], "text": q["text"], "category": q["style"], "type_id": q["type_id"],
                     "type_ids": [q["type_id"]], "split": split_of[q["type_id"]]})
        qrels += judged
    return rows, qrels
