#!/usr/bin/python3
"""A soak of `lrem serve` with mixed good, bad and slow clients (docs/SERVING.md, "Soak").

    bench/serve_soak.py --lrem build/bin/lrem --model models/lrem-demo --index runs/demo/index \\
        --queries runs/demo/data/queries_test.jsonl [--minutes 10] [--good 3] [--bad 2] [--slow 2] \\
        [--idle 20] [--serve-arg=--threads=1 ...]

Good clients send valid requests in a loop (search in reason, direct and auto mode when the
index has a router, batches of 1-8 queries, /embed, /v1/embeddings, /healthz, /metrics) and
check every answer: status 200 and a body of the expected shape. Bad clients send what real
clients get wrong: malformed or truncated JSON, wrong types, k beyond the limit, an unknown
mode, a body over the limit, invalid UTF-8, an unknown route, a wrong method; each must get its
4xx, never a 5xx or a dropped connection. Slow clients trickle a request a byte at a time or
open connections and say nothing. The server's resident memory is sampled every 10 s.

The verdict (last line, JSON): zero failed good requests, zero bad requests answered with
anything but their 4xx, and flat RSS: the mean of the last 20% of samples within --rss-slack-mb
of the mean of the samples taken after the first 20% (the warm-up: caches and arenas fill).
A 503 (load shedding) is counted apart: with the default queue a good client never sees one.
"""

import argparse
import http.client
import json
import random
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))
from serving import LremServe, add_server_arguments, at_least, query_texts  # noqa: E402


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []

    def add(self, key, ok, detail=""):
        with self.lock:
            done, bad = self.counts.get(key, (0, 0))
            self.counts[key] = (done + 1, bad + (not ok))
            if not ok and len(self.failures) < 20:
                self.failures.append(f"{key}: {detail}"[:300])


def send(server, method, path, body=None, content_type="application/json", timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": content_type} if data is not None else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def good_client(server, queries, modes, stop, tally, rng):
    while not stop.is_set():
        kind = rng.choice(("search", "search", "search_batch", "embed", "v1_embeddings", "healthz", "metrics"))
        try:
            if kind == "search":
                mode = rng.choice(modes)
                status, body = send(server, "POST", "/search", {"query": rng.choice(queries), "k": 10, "mode": mode})
                ok = status == 200 and len(json.loads(body)["hits"]) == 10
            elif kind == "search_batch":
                batch = rng.sample(queries, rng.randint(2, 8))
                status, body = send(server, "POST", "/search", {"queries": batch, "k": 5, "mode": rng.choice(modes)})
                ok = status == 200 and len(json.loads(body)["results"]) == len(batch)
            elif kind == "embed":
                status, body = send(server, "POST", "/embed", {"texts": rng.sample(queries, 3), "kind": "item"})
                ok = status == 200 and len(json.loads(body)["embeddings"]) == 3
            elif kind == "v1_embeddings":
                status, body = send(server, "POST", "/v1/embeddings", {"input": rng.sample(queries, 2)})
                ok = status == 200 and len(json.loads(body)["data"]) == 2
            elif kind == "healthz":
                status, body = send(server, "GET", "/healthz")
                ok = status == 200
            else:
                status, body = send(server, "GET", "/metrics")
                ok = status == 200 and b"lrem_http_requests_total" in body
            if status == 503:
                tally.add("good (shed, 503)", True)
                continue
            tally.add("good " + kind, ok, f"status {status}: {body[:200]!r}")
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            tally.add("good " + kind, False, repr(exc))


# (name, method, path, body bytes, content type, accepted statuses)
BAD_REQUESTS = [
    ("malformed json", "POST", "/search", b'{"query": "kettle", "k": }', "application/json", {400}),
    ("truncated json", "POST", "/search", b'{"query": "kett', "application/json", {400}),
    ("query not a string", "POST", "/search", b'{"query": 5}', "application/json", {400}),
    ("queries with a number", "POST", "/search", b'{"queries": ["a", 5]}', "application/json", {400}),
    ("k over the limit", "POST", "/search", b'{"query": "kettle", "k": 100000}', "application/json", {400, 413}),
    ("k negative", "POST", "/search", b'{"query": "kettle", "k": -3}', "application/json", {400}),
    ("unknown mode", "POST", "/search", b'{"query": "kettle", "mode": "think harder"}', "application/json", {400}),
    ("invalid utf-8", "POST", "/search", b'{"query": "\xff\xfe kettle"}', "application/json", {400}),
    ("empty body", "POST", "/search", b"", "application/json", {400}),
    ("body over the limit", "POST", "/search", b'{"query": "' + b"a" * (2 << 20) + b'"}', "application/json", {413}),
    ("embed wrong kind", "POST", "/embed", b'{"texts": ["a"], "kind": "banana"}', "application/json", {400}),
    ("v1 bad encoding", "POST", "/v1/embeddings", b'{"input": "a", "encoding_format": "hex"}', "application/json",
     {400}),
    ("unknown route", "GET", "/nowhere", None, None, {404}),
    ("wrong method", "GET", "/search", None, None, {404, 405}),
]


def bad_client(server, stop, tally, rng):
    while not stop.is_set():
        name, method, path, body, content_type, accepted = rng.choice(BAD_REQUESTS)
        try:
            status, reply = send(server, method, path, body, content_type or "application/json")
            tally.add("bad " + name, status in accepted, f"status {status}: {reply[:200]!r}")
        except (OSError, http.client.HTTPException) as exc:
            # A body over the limit may be refused before it is all sent: the server answers
            # 413 and closes, and the client sees the reset while still writing.
            tally.add("bad " + name, name == "body over the limit" and isinstance(exc, (BrokenPipeError,
                                                                                        ConnectionResetError)),
                      repr(exc))
        time.sleep(0.05)


def slow_client(server, stop, tally, rng):
    """Sends a valid request a byte every 100 ms: the server's whole-request deadline cuts it."""
    request = (b'POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Content-Length: 40\r\n\r\n{"query": "kettle", "k": 3, "mode": "d"}')
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
                for byte in request:
                    if stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(0.1)
                sock.recv(4096)
            tally.add("slow trickle", True)
        except OSError:
            tally.add("slow trickle", True)  # cut off by the server: what it should do


def idle_client(server, stop, tally):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
                closed = sock.recv(1) == b""  # the server closes an idle connection
            tally.add("idle connection", closed)
        except OSError:
            tally.add("idle connection", True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_arguments(parser)
    # Under half a minute there are too few 10-second samples to tell growth from warm-up.
    parser.add_argument("--minutes", type=at_least(0.5, float), default=10)
    parser.add_argument("--good", type=at_least(1), default=3)
    parser.add_argument("--bad", type=at_least(0), default=2)
    parser.add_argument("--slow", type=at_least(0), default=2)
    parser.add_argument("--idle", type=at_least(0), default=20)
    parser.add_argument("--rss-slack-mb", type=at_least(0.0, float), default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    queries = query_texts(args.queries)
    modes = ["reason", "direct"] + (["auto"] if (Path(args.index) / "router.json").exists() else [])
    tally, stop = Tally(), threading.Event()
    samples = []
    with LremServe.from_args(args) as server:
        rng = random.Random(args.seed)
        threads = [threading.Thread(target=good_client, args=(server, queries, modes, stop, tally,
                                                              random.Random(rng.random())))
                   for _ in range(args.good)]
        threads += [threading.Thread(target=bad_client, args=(server, stop, tally, random.Random(rng.random())))
                    for _ in range(args.bad)]
        threads += [threading.Thread(target=slow_client, args=(server, stop, tally, rng)) for _ in range(args.slow)]
        threads += [threading.Thread(target=idle_client, args=(server, stop, tally)) for _ in range(args.idle)]
        for thread in threads:
            thread.start()
        start = time.monotonic()
        while time.monotonic() - start < 60 * args.minutes and server.proc.poll() is None:
            samples.append((round(time.monotonic() - start), server.memory()["rss_bytes"]))
            print(json.dumps({"bench": "soak_sample", "t_s": samples[-1][0], "rss_mb": round(samples[-1][1] / 2**20, 1),
                              "requests": sum(n for n, _ in tally.counts.values()),
                              "failed": sum(b for _, b in tally.counts.values())}), flush=True)
            time.sleep(10)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        alive = server.proc.poll() is None
    cut = max(1, len(samples) // 5)
    settled = [rss for _, rss in samples[cut:]]
    last = [rss for _, rss in samples[-cut:]]
    growth_mb = (statistics.mean(last) - statistics.mean(settled)) / 2**20 if settled else float("nan")
    good = {k: v for k, v in tally.counts.items() if k.startswith("good")}
    bad = {k: v for k, v in tally.counts.items() if not k.startswith("good")}
    failed_good = sum(b for _, b in good.values())
    failed_bad = sum(b for _, b in bad.values())
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[:3]
    verdict = {"bench": "soak", "minutes": args.minutes, "server_survived": alive, "good_requests": sum(n for n, _ in good.values()),
               "failed_good": failed_good, "bad_requests": sum(n for n, _ in bad.values()), "failed_bad": failed_bad,
               "rss_settled_mb": round(statistics.mean(settled) / 2**20, 1) if settled else None,
               "rss_growth_mb": round(growth_mb, 1), "rss_max_mb": round(max(r for _, r in samples) / 2**20, 1),
               "counts": tally.counts, "failures": tally.failures, "loadavg": load,
               "flat_rss": abs(growth_mb) <= args.rss_slack_mb,
               "passed": alive and failed_good == 0 and failed_bad == 0 and abs(growth_mb) <= args.rss_slack_mb}
    print(json.dumps(verdict), flush=True)
    return 0 if verdict["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
