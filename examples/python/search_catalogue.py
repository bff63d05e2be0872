#!/usr/bin/env python3
"""Search a product catalogue with reasoning: print each query's chain of thought and its hits.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/search_catalogue.py \
        "cheaper alternative to airpods" "shampoo without sulfates"

Without --index the catalogue (--items) is embedded and indexed in memory first; with --index
it opens a directory written by index_catalogue.py (or `lrem index build`). Without queries it
runs the first query of each category in examples/data/queries.jsonl.
"""

import argparse
import json
import sys

import lrem

from example_defaults import DEMO_MODEL, ITEMS, QUERIES


def example_queries():
    first_of = {}
    with open(QUERIES, encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            first_of.setdefault(q["category"], q["text"])
    return list(first_of.values())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEMO_MODEL), help="model directory (default: %(default)s)")
    ap.add_argument("--index", help="an index directory; if omitted, --items is indexed in memory")
    ap.add_argument("--items", default=str(ITEMS), help='items JSONL, {"id": int, "title": str, ...} per line '
                    "(default: %(default)s)")
    ap.add_argument("--factory", default="Flat", help="FAISS factory string for the in-memory index (Flat, HNSW32, ...)")
    ap.add_argument("-k", type=int, default=5, help="results per query")
    ap.add_argument("--mode", default="reason", choices=["reason", "direct"])
    ap.add_argument("queries", nargs="*", help="queries (default: one example per category)")
    args = ap.parse_args(argv)

    try:
        if args.index:
            retriever = lrem.Retriever.open(args.model, args.index)
        else:
            embedder = lrem.Embedder(lrem.Model.load(args.model), show_progress=True)
            items = lrem.ItemStore.load(args.items)
            retriever = lrem.Retriever(embedder, lrem.build_index(embedder, items, factory=args.factory), items)
        for res in retriever.search_many(args.queries or example_queries(), k=args.k, mode=args.mode):
            print(f"query: {res.query}")
            print(f"cot:   {res.cot}")
            for rank, hit in enumerate(res.hits, 1):
                print(f"{rank:4d}. {hit.score:.4f}  [{hit.id}] {hit.title}")
            print()
    except lrem.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
