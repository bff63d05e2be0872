#!/usr/bin/python3
"""Resident memory of `lrem serve` under the worst valid requests (docs/SERVING.md, "Bounded responses").

    bench/serve_worst_request.py --lrem build/bin/lrem --model models/lrem-demo --index runs/demo/index \\
        --queries runs/demo/data/queries_test.jsonl [--repeats 4] [--serve-arg=--threads=1 ...]

The largest requests the server's default limits let through: a /search batch of max_batch
queries (the longest of --queries) in reason mode with k = max_results / max_batch, and /embed
and /v1/embeddings batches of max_batch texts. Each is sent --repeats times, one after another;
after each the server's resident memory is read. One JSON line per request kind: the response
size, the slowest answer, RSS after start-up and a warm-up request, after the last repeat, and
the process's high-water mark. Any answer but 200 is an error: the request was meant to be valid.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))
from serving import LremServe, add_server_arguments, at_least, query_texts  # noqa: E402

MIB = 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    parser.add_argument("--repeats", type=at_least(1), default=4)
    # The defaults of lrem::ServerOptions (include/lrem/server.h); a request over them gets 413.
    parser.add_argument("--max-batch", type=at_least(1), default=256)
    parser.add_argument("--max-results", type=at_least(1), default=10000)
    args = parser.parse_args()
    if args.max_results < args.max_batch:
        parser.error(f"--max-results {args.max_results} is below --max-batch {args.max_batch}: no k fits")
    texts = sorted(query_texts(args.queries), key=len, reverse=True)[:args.max_batch]
    if len(texts) < args.max_batch:
        sys.exit(f"{args.queries}: {len(texts)} queries, fewer than the batch of {args.max_batch}")
    k = args.max_results // args.max_batch
    requests = [
        ("search", "/search", {"queries": texts, "k": k, "mode": "reason"}),
        ("embed", "/embed", {"texts": texts, "kind": "query", "mode": "reason"}),
        ("v1_embeddings", "/v1/embeddings", {"input": texts}),
    ]
    with LremServe.from_args(args) as server:
        status, _, _ = server.request("POST", "/search", {"query": texts[0], "k": 10})
        if status != 200:
            sys.exit(f"warm-up /search answered {status}")
        for kind, path, body in requests:
            before = server.memory()
            slowest, size = 0.0, 0
            for _ in range(args.repeats):
                start = time.monotonic()
                status, _, data = server.request("POST", path, body)
                slowest = max(slowest, time.monotonic() - start)
                if status != 200:
                    sys.exit(f"{path} with {len(texts)} texts answered {status}: {data[:300]!r}")
                size = len(data)
            after = server.memory()
            print(json.dumps({"bench": "worst_request", "request": kind, "texts": len(texts),
                              "k": k if kind == "search" else None, "repeats": args.repeats,
                              "response_mb": round(size / MIB, 2), "slowest_s": round(slowest, 2),
                              "rss_before_mb": round(before["rss_bytes"] / MIB, 1),
                              "rss_after_mb": round(after["rss_bytes"] / MIB, 1),
                              "peak_rss_mb": round(after["peak_rss_bytes"] / MIB, 1),
                              "load_average_1min": float(open("/proc/loadavg").read().split()[0])}), flush=True)


if __name__ == "__main__":
    main()
