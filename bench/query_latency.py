#!/usr/bin/python3
"""Reason-mode query embedding latency per model, one query per call (docs/RESULTS.md, CoT length).

    PYTHONPATH=build/python OMP_NUM_THREADS=1 bench/query_latency.py --queries runs/demo/data/queries_test.jsonl \\
        --model l8=runs/l8/stage2 --model l16=runs/demo/stage2 [--limit 300] [--rounds 2]

The CoT cache is off, so every call generates its chain of thought. Models alternate within each
round, so they see the same machine load; compare within a round.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import lrem

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "python"))
from serving import at_least, query_texts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", required=True, help="JSONL with a \"text\" per line")
    parser.add_argument("--model", action="append", required=True, help="LABEL=MODEL_DIR")
    parser.add_argument("--limit", type=at_least(1), default=300, help="queries timed per model and round")
    parser.add_argument("--rounds", type=at_least(1), default=2)
    args = parser.parse_args()
    queries = query_texts(args.queries)[: args.limit]
    embedders = {}
    for spec in args.model:
        label, equals, path = spec.partition("=")
        if not (label and equals and path):
            parser.error(f"--model {spec!r}: expected LABEL=MODEL_DIR")
        try:
            model = lrem.Model.load(path)
        except lrem.Error as e:
            parser.exit(1, f"query_latency: --model {label}: {e}\n")
        embedders[label] = (lrem.Embedder(model, cot_cache_capacity=0), model)
    for round_ in range(1, args.rounds + 1):
        row = {"round": round_}
        for label, (embedder, model) in embedders.items():
            seconds, cot_tokens = [], []
            for q in queries:
                start = time.perf_counter()
                _, cots = embedder.embed_queries([q], mode="reason", return_cots=True)
                seconds.append(time.perf_counter() - start)
                cot_tokens.append(len(model.tokenizer.encode(cots[0], add_special_tokens=False)))
            row[label] = {"mean_ms": round(1e3 * statistics.mean(seconds), 2),
                          "p50_ms": round(1e3 * statistics.median(seconds), 2),
                          "cot_tokens": round(statistics.mean(cot_tokens), 2)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
