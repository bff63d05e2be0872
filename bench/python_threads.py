"""Throughput of Retriever.search from several Python threads against the same searches made
one after another (docs/SERVING.md, "Python threads"). Prints one JSON line per setting.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_threads.py --model DIR [--threads 4]
        [--queries 64] [--num-threads 0]

--model is an LREM model directory (e.g. the test fixture with add_lrem_tokens, or a demo
model); the catalogue is synthetic. Direct and reason mode are both measured; the CoT cache
is disabled so every search computes.
"""
import argparse
import json
import os
import threading
import time

import lrem


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--queries", type=int, default=64)
    ap.add_argument("--num-threads", type=int, default=0, help="Model.load's compute threads; 0 = all cores")
    args = ap.parse_args()

    lrem.set_num_threads(args.num_threads)
    model = lrem.Model.load(args.model)
    emb = lrem.Embedder(model, cot_cache_capacity=0)
    items = lrem.ItemStore([{"id": i, "title": f"catalogue item {i}: a sturdy everyday thing"} for i in range(2000)])
    retriever = lrem.Retriever(emb, lrem.build_index(emb, items), items)
    queries = [f"something useful for task number {i}" for i in range(args.queries)]

    for mode in ("direct", "reason"):
        retriever.search(queries[0], mode=mode)  # warm up
        serial = timed(lambda: [retriever.search(q, mode=mode) for q in queries])

        def worker(part):
            for q in part:
                retriever.search(q, mode=mode)

        parts = [queries[i :: args.threads] for i in range(args.threads)]

        def concurrent():
            threads = [threading.Thread(target=worker, args=(p,)) for p in parts]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        parallel = timed(concurrent)
        print(json.dumps({
            "bench": "python_threads", "mode": mode, "queries": len(queries), "python_threads": args.threads,
            "compute_threads": lrem.num_threads(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0],
            "serial_qps": round(len(queries) / serial, 1), "threaded_qps": round(len(queries) / parallel, 1),
            "threaded_over_serial": round(serial / parallel, 2),
        }))


if __name__ == "__main__":
    main()
