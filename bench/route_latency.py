#!/usr/bin/python3
"""Mean and median latency of one search per call in modes direct, reason and auto (docs/RESULTS.md).

    PYTHONPATH=build/python OMP_NUM_THREADS=1 bench/route_latency.py --model models/lrem-demo \\
        --index INDEX_DIR --queries runs/demo/data/queries_test.jsonl [--rounds 2]

INDEX_DIR holds router.json (mode auto's threshold). The CoT cache is off, so every reasoned
query generates; the modes run one after another in each round, so compare within a round.
"""

import argparse
import json
import statistics
import time

import lrem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    with open(args.queries, encoding="utf-8") as f:
        queries = [json.loads(line)["text"] for line in f]
    retriever = lrem.Retriever.open(args.model, args.index, cot_cache_capacity=0)
    for q in queries[:20]:
        retriever.search(q, k=args.k, mode="reason")  # warm-up
    for round_ in range(1, args.rounds + 1):
        row = {}
        for mode in ("direct", "reason", "auto"):
            seconds, reasoned = [], 0
            for q in queries:
                start = time.perf_counter()
                reasoned += retriever.search(q, k=args.k, mode=mode).mode == "reason"
                seconds.append(time.perf_counter() - start)
            row[mode] = {"mean_ms": round(1e3 * statistics.mean(seconds), 2),
                         "p50_ms": round(1e3 * statistics.median(seconds), 2),
                         "reasoned": round(reasoned / len(queries), 3)}
        print(json.dumps({"round": round_, **row}), flush=True)


if __name__ == "__main__":
    main()
