#!/usr/bin/env python3
"""Search a product catalogue with reasoning: embed items, build an index, print CoT + results.

    PYTHONPATH=build/python /usr/bin/python3 examples/search_catalogue.py \
        --model MODEL_DIR --items items.jsonl "cheaper alternative to airpods" "shampoo without sulfates"
"""

import argparse
import sys

import lrem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model directory (Hugging Face layout with LREM tokens)")
    ap.add_argument("--items", required=True, help='items JSONL: {"id": int, "title": str, ...} per line')
    ap.add_argument("--factory", default="Flat", help="FAISS factory string (Flat, HNSW32, IVF256,Flat, ...)")
    ap.add_argument("-k", type=int, default=5, help="results per query")
    ap.add_argument("--mode", default="reason", choices=["reason", "direct"])
    ap.add_argument("queries", nargs="+")
    args = ap.parse_args(argv)

    try:
        model = lrem.Model.load(args.model)
        embedder = lrem.Embedder(model, show_progress=True)
        items = lrem.ItemStore.load(args.items)
        index = lrem.build_index(embedder, items, factory=args.factory)
        retriever = lrem.Retriever(embedder, index, items)
        for res in retriever.search_many(args.queries, k=args.k, mode=args.mode):
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
