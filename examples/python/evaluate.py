#!/usr/bin/env python3
"""Score a model (or the BM25 baseline) on judged queries: HitRate@K, Precision@K, MRR and
NDCG@10 per query category.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/evaluate.py --mode reason
    PYTHONPATH=build/python /usr/bin/python3 examples/python/evaluate.py --bm25
"""

import argparse
import sys

import lrem

from example_defaults import DEMO_MODEL, ITEMS, QRELS, QUERIES


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEMO_MODEL), help="model directory (default: %(default)s)")
    ap.add_argument("--bm25", action="store_true", help="evaluate the lexical baseline instead of the model")
    ap.add_argument("--items", default=str(ITEMS), help="items JSONL (default: %(default)s)")
    ap.add_argument("--queries", default=str(QUERIES), help="queries JSONL (default: %(default)s)")
    ap.add_argument("--qrels", default=str(QRELS), help="judgements JSONL (default: %(default)s)")
    ap.add_argument("--mode", default="reason", choices=["reason", "direct"])
    ap.add_argument("--cot-source", default="generated", choices=["generated", "empty", "random", "query"],
                    help="where a reason-mode query's CoT comes from (the ablations of the paper)")
    ap.add_argument("-k", type=int, action="append", help="cut-offs for HitRate@K and Precision@K (default 1, 10)")
    ap.add_argument("--json", help="also write the report (with per-query rankings) to this file")
    args = ap.parse_args(argv)

    try:
        items = lrem.ItemStore.load(args.items)
        if args.bm25:
            rows = items.items()
            system = lrem.BM25([r["id"] for r in rows], [r["title"] for r in rows])
        else:
            embedder = lrem.Embedder(lrem.Model.load(args.model))
            system = lrem.Retriever(embedder, lrem.build_index(embedder, items), items)
        run = lrem.evaluate(system, args.queries, args.qrels, mode=args.mode, cot_source=args.cot_source,
                            ks=args.k or [1, 10], show_progress=True)
    except lrem.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(run)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(run.to_json(include_per_query=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
