#!/usr/bin/env python3
"""Cuts the small catalogue of examples/data/ out of the demo benchmark, so the examples and the
notebook run in seconds on data the shipped models were evaluated on (the test split).

    /usr/bin/python3 scripts/make_benchmark.py --out runs/bench $(cat configs/demo/benchmark.args)
    /usr/bin/python3 scripts/make_example_data.py --benchmark runs/bench --out examples/data

Takes the first --types test-split product types (by id), the first --items-per-type items of
each, the first --queries-per-category test queries of each type and category that still have a
relevant item, their judgements, and --triplets stage-1 training triplets spread over the training set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmark.jsonl import write_jsonl  # noqa: E402


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", required=True, help="a directory written by scripts/make_benchmark.py")
    ap.add_argument("--out", required=True, help="output directory (examples/data)")
    ap.add_argument("--types", type=int, default=80, help="test-split product types kept (default %(default)s)")
    ap.add_argument("--items-per-type", type=int, default=5, help="items kept per type (default %(default)s)")
    ap.add_argument("--queries-per-category", type=int, default=1,
                    help="test queries kept per type and category (default %(default)s)")
    ap.add_argument("--triplets", type=int, default=32, help="stage-1 triplets (default %(default)s)")
    args = ap.parse_args(argv)
    src = lambda name: os.path.join(args.benchmark, name)  # noqa: E731

    types = {t["type_id"] for t in read_jsonl(src("types.jsonl")) if t["split"] == "test"}
    types = set(sorted(types)[: args.types])

    items, per_type = [], {}
    for item in read_jsonl(src("items.jsonl")):
        if item["type_id"] in types and per_type.get(item["type_id"], 0) < args.items_per_type:
            per_type[item["type_id"]] = per_type.get(item["type_id"], 0) + 1
            items.append(item)
    item_ids = {item["id"] for item in items}

    queries, per_kind = [], {}
    for q in read_jsonl(src("queries_test.jsonl")):
        kind = (q["type_id"], q["category"])
        if q["type_id"] in types and per_kind.get(kind, 0) < args.queries_per_category:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            queries.append(q)
    query_ids = {q["id"] for q in queries}
    qrels = [r for r in read_jsonl(src("qrels_test.jsonl")) if r["query_id"] in query_ids and r["item_id"] in item_ids]
    judged = {r["query_id"] for r in qrels}
    queries = [q for q in queries if q["id"] in judged]

    triplets = read_jsonl(src("triplets_train.jsonl"))
    triplets = triplets[:: max(1, len(triplets) // args.triplets)][: args.triplets]

    os.makedirs(args.out, exist_ok=True)
    for name, records in [("items.jsonl", items), ("queries.jsonl", queries), ("qrels.jsonl", qrels),
                          ("triplets.jsonl", triplets)]:
        write_jsonl(os.path.join(args.out, name), records)
    print(f"{len(types)} types, {len(items)} items, {len(queries)} queries, {len(qrels)} judgements, "
          f"{len(triplets)} triplets -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
